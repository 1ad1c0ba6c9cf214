// Package launch provides the controller side of launching an instance on
// an OpenStack cloud, on gophercloud v2: the walkthrough's steps (check the
// services, make a flavor, a keypair, open ICMP and SSH, find the image,
// create the flat provider network and subnet, boot the server, read its
// address and console) as one idempotent API that explains a failure
// instead of hanging on it.
//
// Open authenticates from a clouds.yaml (+ secure.yaml, OS_CLOUD,
// OS_CLIENT_CONFIG_FILE) or an openrc's OS_* variables through gophercloud's
// own config support, with TLS verification on unless the cloud config says
// verify: false, and re-authenticates when the token expires. New takes
// service clients the caller already has.
//
// Ensure* calls are get-or-create: run twice, the second run creates
// nothing; an existing object that differs from what was asked is an
// ErrMismatch error, a name that matches several objects an ErrAmbiguous
// error listing them. Launch waits for ACTIVE with a growing poll interval
// bounded by the context and stops at the first poll that sees ERROR with a
// *FaultError carrying Nova's fault, the port bindings and the state of the
// compute service and agents on the host.
//
// Preflight is the walkthrough's checks before a boot: nova-compute and
// the Linux bridge agent up on each host, a live DHCP agent for the
// network, and `nova-status upgrade check` through the APIs (placement
// reachable, a resource provider for every compute host, its inventory
// large enough for the flavor, the host in Nova's hypervisor list), each
// failure a Problem with the command that fixes it. FaultError.Explain
// tells "No valid host" (naming the placement check that failed) from a
// VIF-plugging timeout (naming the Linux bridge agent and host that never
// reported the port ACTIVE). PortAgents reads the agents one port needs.
//
// Server reads an existing server in any status (ACTIVE, SHUTOFF, BUILD,
// ERROR with Nova's fault) by ID or unique name, with its ports; Ports
// lists the Neutron ports of a device ID with their binding. Both only
// GET and never wait.
//
// Transient failures (HTTP 5xx, 429 with Retry-After, 409 on create,
// connection resets) are retried with bounded back-off by gophercloud's
// own RetryFunc and RetryBackoffFunc hooks, set on the Client's own copy
// of the ProviderClient (the caller's is never changed); the rest come
// back as *APIError naming the request (method and URL) that failed. No secret
// (password, token, adminPass, private key) is ever logged or put in an
// error.
//
// # Privileges
//
// No local privilege. On the cloud: creating flavors and provider
// networks, listing compute services, network agents, hypervisors and
// placement's resource providers, reading a
// server's host and instance name, and forcing a host need the admin role;
// the rest works with member.
//
//	c, err := launch.Open(ctx, &launch.Config{Cloud: "aio"})
//	fl, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "m1.nano", VCPUs: 1, RAMMiB: 64, DiskGiB: 1})
//	srv, err := c.Launch(ctx, launch.ServerSpec{Name: "cirros1", Flavor: fl.ID, Image: "cirros", Network: "provider"})
//	var fe *launch.FaultError
//	if errors.As(err, &fe) { fmt.Println(fe.Fault.Message, fe.Explain()) }
package launch
