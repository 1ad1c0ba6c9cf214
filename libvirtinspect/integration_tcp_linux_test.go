package libvirtinspect_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// TestIntegrationTCPURI: a remote-style URI (test+tcp://) to a private
// libvirtd listening on loopback, compared with virsh over the same URI.
func TestIntegrationTCPURI(t *testing.T) {
	d := testutil.NewPrivateLibvirtdTCP(t)
	uri := "test+tcp://" + d.TCPAddr + "/default"
	ctx := ctxT(t, 30*time.Second)
	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: uri, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Dial(%s): %v", uri, err)
	}
	defer c.Close()
	// Keep a domain of our own alive on the driver while we compare.
	adm := admin(t, d.Socket, "test:///default")
	name := "lv-" + randHex(10)
	defineTest(t, adm, testDomainXML(name, ""), true)
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ours [][]string
	for _, dm := range doms {
		id := "-"
		if dm.ID >= 0 {
			id = strconv.Itoa(dm.ID)
		}
		ours = append(ours, []string{id, dm.Name, dm.State.String()})
	}
	vir := virshTable(testutil.Virsh(t, uri, "list", "--all"))
	if diff := cmp.Diff(vir, ours); diff != "" {
		t.Errorf("virsh -c %s list --all (-virsh +ours):\n%s", uri, diff)
	}
	if !slices.ContainsFunc(doms, func(x libvirtinspect.Domain) bool { return x.Name == name }) {
		t.Errorf("%s not listed over TCP", name)
	}
	if c.URI() != uri {
		t.Errorf("URI() = %q", c.URI())
	}
	statsMatchVirsh(t, c, uri) // the stats connection over TCP
	batchMatchesDetails(t, c)
}

// TestIntegrationTLSURI: test+tls:// with a throwaway PKI to a private
// libvirtd on loopback, compared with virsh over the same URI.
func TestIntegrationTLSURI(t *testing.T) {
	d := testutil.NewPrivateLibvirtdTLS(t)
	uri := "test+tls://" + d.TLSAddr + "/default?pkipath=" + d.PKIPath
	ctx := ctxT(t, 30*time.Second)
	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: uri})
	if err != nil {
		t.Fatalf("Dial(%s): %v", uri, err)
	}
	defer c.Close()
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ours [][]string
	for _, dm := range doms {
		ours = append(ours, []string{strconv.Itoa(dm.ID), dm.Name, dm.State.String()})
	}
	vir := virshTable(testutil.Virsh(t, uri, "list", "--all"))
	if diff := cmp.Diff(vir, ours); diff != "" {
		t.Errorf("virsh -c %s list --all (-virsh +ours):\n%s", uri, diff)
	}
	statsMatchVirsh(t, c, uri) // the stats connection over TLS
	batchMatchesDetails(t, c)
}
