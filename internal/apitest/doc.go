// Package apitest holds tests over the module's whole public API, such as
// the JSON round trip of every exported result type. It has no code of its
// own.
package apitest
