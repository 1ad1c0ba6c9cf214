// Package fakecloud provides an in-process fake of the five OpenStack
// services the launch package talks to — Keystone v3, Nova v2.1, Neutron
// v2.0, Glance v2 and Placement — for unit tests, benchmarks and the demo (vmtrace
// -demo traces a server of this fake). It does not import testing: tests
// use the testing.TB wrapper in internal/testutil/fakecloud.
//
// The fake answers with bodies recorded from a real all-in-one OpenStack
// Zed (see testdata/README.md): listings start from the recorded objects,
// and the objects a client creates, or a program adds with AddNetwork,
// AddPort and AddServer, are copies of a recorded object with the
// requested fields changed, so field names, nesting and extension
// prefixes (OS-EXT-SRV-ATTR:instance_name, binding:vif_type,
// provider:network_type) are the real ones.
//
// One file per service (keystone.go, nova.go, neutron.go, glance.go,
// placement.go) registers its handlers on a net/http ServeMux with
// method-and-path patterns ("GET /network/v2.0/ports/{id}"); fakecloud.go
// holds the state, the knobs, authentication and fault injection.
//
// It behaves as an operator sees Nova and Neutron: servers are created,
// listed (the name filter is a regular expression, as Nova's), shown,
// stopped and started (os-stop/os-start: SHUTOFF with power_state 4, then
// ACTIVE) and deleted; ports are listed by device_id.
//
// Placement holds one resource provider for the compute host with the
// recorded VCPU and DISK_GB inventories and Config.HostRAMMiB of
// MEMORY_MB; usages are the flavors of the host's servers, and the fake's
// scheduler puts a server that does not fit into ERROR with Nova's "No
// valid host was found.". Nova's hypervisor list and the DHCP agents'
// networks come from recorded bodies too.
//
// It is programmable: Inject answers matching requests with a 409, 5xx or
// 429 with Retry-After, or resets the connection; FailServer and the
// placement inventories put servers into ERROR with a Nova fault and a
// failed port binding (VIFPluggingTimeout is the fault of a build whose
// port was never wired); DeleteResourceProvider and RemoveHypervisor take
// the host out of placement or of Nova's hypervisor list; Config.BuildTime is how long a server stays in BUILD; SetService
// and SetAgent take nova-compute or a Neutron agent down; ExpireTokens makes
// every issued token answer 401 so clients must re-authenticate; Requests
// and Count report every request the fake saw.
//
// It answers what the openstack CLI (python-openstackclient with
// keystoneauth, novaclient and openstacksdk) asks before and while it
// creates a server: Keystone's version documents, the version roots of
// Nova, Neutron and Glance without a token (with every href pointing
// back at the fake: links in recorded bodies are rewritten on the way
// out), Nova's flavor summary list, and Neutron's typed 404s and
// security groups by ID for lookups by name. A server is shown at the
// request's compute microversion as far as the flavor goes (a reference
// below 2.47, the embedded copy from 2.47 on); other fields are the
// recorded 2.79 ones whatever the microversion. Each Request records when
// the fake saw it, its User-Agent, and for server creates and shows the
// server's ID and the status answered, so a benchmark can count one
// client's status polls of one server.
//
// Start (or Cloud.Listen) serves it on a loopback port only; Transport
// serves it with no socket at all. The fake logs nothing and prints
// nothing: its password and tokens appear only in what it answers.
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
// None: Listen binds a loopback TCP port (any port above 1023, or 0);
// Transport uses no socket at all.
//
// A Cloud and a Server are safe for concurrent use.
package fakecloud
