// Package fakecloud provides an in-process fake of the four OpenStack
// services the launch package talks to — Keystone v3, Nova v2.1, Neutron
// v2.0 and Glance v2 — for unit tests and benchmarks.
//
// The fake answers with bodies recorded from a real all-in-one OpenStack Zed
// (see testdata/README.md): listings start from the recorded objects, and the
// objects a test creates are copies of a recorded object with the requested
// fields changed, so field names, nesting and extension prefixes
// (OS-EXT-SRV-ATTR:instance_name, binding:vif_type, provider:network_type)
// are the real ones.
//
// It is programmable: Inject answers matching requests with a 409, 5xx or
// 429 with Retry-After, or resets the connection; FailServer and the flavor
// RAM limit put servers into ERROR with a Nova fault and a failed port
// binding; Config.BuildTime is how long a server stays in BUILD; SetService
// and SetAgent take nova-compute or a Neutron agent down; ExpireTokens makes
// every issued token answer 401 so clients must re-authenticate; Requests
// and Count report every request the fake saw.
//
// # Time
//
// The fake reads its clock through Config.Now (nil: time.Now). Inside a
// testing/synctest bubble time.Now is the bubble's fake clock, so a test
// that drives the fake through Transport (in-process, no sockets, so every
// goroutine in the bubble can block durably) sees a 60 s build finish in
// microseconds of real time while every client, including gophercloud's
// fixed 1 s ticker, sleeps exactly as it would against a real cloud.
//
// # Privileges
//
// None: Start listens on 127.0.0.1 with net/http/httptest; Transport uses no
// socket at all.
//
// A Cloud is safe for concurrent use.
package fakecloud
