//go:build !linux

package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/metrics"
	"github.com/vifpath/vifpath/trace"
)

// tapsNodeTrace is the Linux stopgap's stub: tracing needs Linux.
func tapsNodeTrace(*trace.Config, *launch.Client) metrics.TraceFunc {
	return func(context.Context) (*trace.NodeTrace, error) {
		return nil, fmt.Errorf("vifpath-exporter: tracing is not implemented on %s", runtime.GOOS)
	}
}
