// Package fakecloud is the testing.TB face of the in-process fake
// Keystone v3, Nova v2.1, Neutron v2.0 and Glance v2 in
// github.com/vifpath/vifpath/internal/fakecloud, for unit tests and
// benchmarks.
//
// Everything but Start is the server package's: Config, Fault,
// ServerFault, NetworkSpec, PortSpec, ServerSpec and Request are aliases,
// and a Cloud embeds the server package's *Cloud, so its methods
// (Transport, Inject, FailServer, AddServer, CloudsYAML, Requests …) are
// the same. Start here takes a testing.TB and closes the listener when the
// test ends; programs (the demo) use the server package's Start or
// Cloud.Listen, which return a Server to Close.
//
// The fake answers with bodies recorded from a real all-in-one OpenStack
// Zed (see internal/fakecloud/testdata/README.md).
//
// # Time
//
// The fake reads its clock through Config.Now (nil: time.Now). Inside a
// testing/synctest bubble time.Now is the bubble's fake clock, so a test
// that drives the fake through Transport (in-process, no sockets, so every
// goroutine in the bubble can block durably) sees a 60 s build finish in
// microseconds of real time.
//
// # Privileges
//
// None: Start listens on 127.0.0.1; Transport uses no socket at all.
//
// A Cloud is safe for concurrent use.
package fakecloud
