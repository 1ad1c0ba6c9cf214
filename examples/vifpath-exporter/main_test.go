package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUsage: bad command lines exit 2 with a message, before anything is
// opened.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--web.telemetry-path", "metrics"}, "want an absolute path"},
		{[]string{"--web.telemetry-path", "/-/healthy"}, "other than /-/healthy"},
		{[]string{"--interval", "0s"}, "want a positive interval"},
		{[]string{"--timeout", "-1s"}, "non-negative timeout"},
		{[]string{"--role", "controller"}, "want aio, compute or network"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
	} {
		var errb bytes.Buffer
		code := run(context.Background(), c.args, &errb, nil)
		if want := exitUsage; code != want || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s", c.args, code, want, c.msg, errb.String())
		}
	}
}
