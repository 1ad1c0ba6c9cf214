package fakecloud

import (
	"context"
	"testing"
	"time"

	fc "github.com/vifpath/vifpath/internal/fakecloud"
)

// Credentials the fake Keystone accepts, and the fake's names.
const (
	Username    = fc.Username
	ProjectName = fc.ProjectName
	DomainName  = fc.DomainName
	// Host is the compute host of the recorded cloud; servers land there.
	Host = fc.Host
	// InternalBase is the base URL the catalog uses when the fake is driven
	// through Transport (nothing listens there).
	InternalBase = fc.InternalBase
)

type (
	// Config tunes a Cloud. A nil *Config means all defaults.
	Config = fc.Config
	// Fault makes the fake answer matching requests with an error.
	Fault = fc.Fault
	// ServerFault puts a server into ERROR the way Nova does.
	ServerFault = fc.ServerFault
	// Request is one request the fake saw.
	Request = fc.Request
	// NetworkSpec describes a network and its subnet for AddNetwork.
	NetworkSpec = fc.NetworkSpec
	// PortSpec describes a port for AddPort.
	PortSpec = fc.PortSpec
	// ServerSpec describes an existing server for AddServer.
	ServerSpec = fc.ServerSpec
	// AddressPair is an allowed address pair of a PortSpec.
	AddressPair = fc.AddressPair
	// SecurityGroupSpec describes a group for AddSecurityGroup.
	SecurityGroupSpec = fc.SecurityGroupSpec
	// SecurityGroupRuleSpec is one rule of a SecurityGroupSpec.
	SecurityGroupRuleSpec = fc.SecurityGroupRuleSpec
)

// Cloud is the fake: the server package's Cloud, with a Start that ties
// the listener to a test.
type Cloud struct {
	*fc.Cloud
}

// New returns a fake cloud whose catalog points at InternalBase; use
// Transport to reach it in-process, or Start to serve it on a socket.
func New(cfg *Config) *Cloud { return &Cloud{fc.New(cfg)} }

// Start serves the fake on 127.0.0.1 until the test ends and points the
// catalog at it. It returns the Keystone v3 URL (the auth_url of a
// clouds.yaml). The listener and its goroutines are gone when the test's
// cleanup has run.
func (c *Cloud) Start(tb testing.TB) string {
	tb.Helper()
	s, err := c.Listen(context.Background(), "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s.AuthURL()
}

// VIFPluggingTimeout is the fault Nova records when its
// vif_plugging_timeout runs out (see the server package's).
func VIFPluggingTimeout(after time.Duration) ServerFault { return fc.VIFPluggingTimeout(after) }
