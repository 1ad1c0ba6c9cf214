package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/metrics"
	"github.com/vifpath/vifpath/trace"
)

// TestRulesPromtool runs `promtool check rules` on the shipped rules,
// `promtool test rules` on their unit tests (rules/vifpath.rules_test.yml:
// a NIC failing for 5 minutes, a trace that stopped, an orphan tap), and
// `promtool check config` on the fleet configuration example.
func TestRulesPromtool(t *testing.T) {
	promtool := testutil.RequireBinary(t, "promtool", "prometheus")
	for _, c := range []struct {
		dir  string
		args []string
	}{
		{"rules", []string{"check", "rules", "vifpath.rules.yml"}},
		{"rules", []string{"test", "rules", "vifpath.rules_test.yml"}},
		{"fleet", []string{"check", "config", "prometheus.yml"}},
	} {
		args := c.args
		cmd := exec.Command(promtool, args...)
		cmd.Dir = c.dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestRulesNameExportedSeries: every vifpath_ series the rules use is one
// the collector describes, so a renamed series cannot silently disable an
// alert.
func TestRulesNameExportedSeries(t *testing.T) {
	c, err := metrics.New(&metrics.Config{Trace: func(context.Context) (*trace.NodeTrace, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := make(chan *prometheus.Desc, 200)
	c.Describe(ch)
	close(ch)
	known := map[string]bool{}
	nameRE := regexp.MustCompile(`fqName: "([a-z_:]+)"`)
	for d := range ch {
		if m := nameRE.FindStringSubmatch(d.String()); m != nil {
			known[m[1]] = true
		}
	}
	b, err := os.ReadFile("rules/vifpath.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Recorded series (level:metric:operations) are the rules' own.
	var used []string
	for _, n := range regexp.MustCompile(`[a-z_:]*vifpath_[a-z_:]*`).FindAllString(string(b), -1) {
		if !strings.Contains(n, ":") {
			used = append(used, n)
		}
	}
	if len(used) == 0 {
		t.Fatal("the rules use no vifpath_ series")
	}
	for _, n := range used {
		if !known[n] {
			t.Errorf("rules use %s, which the collector does not export (known: %d series)", n, len(known))
		}
	}
}
