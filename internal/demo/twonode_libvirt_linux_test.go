package demo

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationTwoNodeLibvirt: the two-node demo with the libvirt
// guest (a qemu TCG domain run by a libvirtd inside compute1's
// namespace, leasing from the controller's dnsmasq across the provider
// switch) and the fake cloud of both hosts. Joined: OK from the server
// hop on, the domain, interface and guest hops judged on compute1 from
// the real domain, the server being the domain (its UUID); a switch that
// drops unknown unicast is named at the provider link, the real guest
// answering the broadcast probe and not the unicast one; the tap set
// down is compute1's fault, the link not blamed.
func TestIntegrationTwoNodeLibvirt(t *testing.T) {
	imageDir := requireLibvirtGuest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	tn, err := BuildTwoNode(ctx, &PathConfig{Dir: searchableTempDir(t), Guest: GuestLibvirt, GuestImageDir: imageDir,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tn.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if left := tn.Leftovers(); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	t.Logf("two nodes with the libvirt guest built in %v (guest boot to its lease across the switch %v)", time.Since(start).Round(time.Millisecond), tn.GuestBoot.Round(time.Millisecond))
	if tn.GuestKind != GuestLibvirt || tn.Guest != "" || tn.Domain == "" {
		t.Fatalf("guest %s (namespace %q, domain %q), want the libvirt domain", tn.GuestKind, tn.Guest, tn.Domain)
	}
	cloud, err := tn.StartCloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cloud.ServerID != tn.DomainUUID || cloud.InstanceName != tn.Domain {
		t.Errorf("the cloud's server %s (%s), want the domain %s (%s)", cloud.ServerID, cloud.InstanceName, tn.DomainUUID, tn.Domain)
	}
	join := func(what string) *trace.Trace {
		t.Helper()
		nt, err := tn.Join(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nt.Traces) != 1 {
			t.Fatalf("%s: %d joined traces", what, len(nt.Traces))
		}
		tr := nt.Traces[0]
		var b strings.Builder
		tr.WriteText(&b)
		t.Logf("%s:\n%s", what, b.String())
		return tr
	}
	tr := join("healthy")
	if tr.Verdict != trace.OK || tr.Hops[0].Kind != trace.KindServer || tr.Domain != tn.Domain {
		t.Errorf("healthy: %s, first hop %s, domain %q; want ok from the server hop, domain %s", tr.Verdict, tr.Hops[0].Kind, tr.Domain, tn.Domain)
	}
	for _, k := range []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindGuest, trace.KindProviderLink, trace.KindARP, trace.KindLease} {
		if h, ok := tr.Hop(k, ""); !ok || h.Verdict != trace.OK {
			t.Errorf("healthy: %s hop %s %q, want ok", k, h.Verdict, h.Summary)
		}
	}
	if h, _ := tr.Hop(trace.KindDomain, ""); evidence(h, "node") != ComputeName {
		t.Errorf("domain hop judged on %q, want %s", evidence(h, "node"), ComputeName)
	}

	if err := tn.Break(BreakUnknownUnicast); err != nil {
		t.Fatal(err)
	}
	tr = join(string(BreakUnknownUnicast))
	if h, ok := firstFail(tr); !ok || h.Kind != trace.KindProviderLink || !strings.Contains(h.Summary, "unicast to the VM's MAC is dropped") {
		t.Errorf("unknown unicast: first failing hop %s %q, want the provider link dropping unicast", h.Kind, h.Summary)
	}
	if h, _ := tr.Hop(trace.KindDomain, ""); h.Verdict != trace.OK {
		t.Errorf("unknown unicast: the domain hop %s %q: the guest is not at fault", h.Verdict, h.Summary)
	}
	if h, _ := tr.Hop(trace.KindReachability, ""); h.Verdict == trace.Fail || evidence(h, "explained_by") == "" {
		t.Errorf("unknown unicast: the unanswered ping (reachability %s %q) is the link's consequence: want it explained by the link", h.Verdict, h.Summary)
	}

	if err := tn.Break(BreakTapDown); err != nil {
		t.Fatal(err)
	}
	tr = join(string(BreakTapDown))
	if h, ok := firstFail(tr); !ok || h.Kind != trace.KindTap || evidence(h, "node") != ComputeName {
		t.Errorf("tap down: first failing hop %s on %q %q, want compute1's tap", h.Kind, evidence(h, "node"), h.Summary)
	}
}
