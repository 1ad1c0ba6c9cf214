package metrics

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/vifpath/vifpath/trace"
)

// Last returns the last successful round's traces and when that round
// ended; nil and the zero time before the first success. The NodeTrace
// is shared: do not modify it.
func (c *Collector) Last() (*trace.NodeTrace, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.node, c.st.lastSuccess
}

// TracesHandler serves the last successful round's traces (Last) as the
// NodeTrace JSON vmtrace -all -json prints, so a compute node's and a
// network node's exporters can be joined (trace.DecodeHalf,
// trace.JoinTraces; vmtrace -join URL URL). The header
// Last-Modified is when that round ended. Before the first success it
// answers 503 Service Unavailable. It never waits for a round.
func (c *Collector) TracesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nt, at := c.Last()
		if nt == nil {
			http.Error(w, "metrics: no trace round has succeeded yet", http.StatusServiceUnavailable)
			return
		}
		b, err := json.Marshal(nt)
		if err != nil {
			http.Error(w, "metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Last-Modified", at.UTC().Format(http.TimeFormat))
		w.Write(append(b, '\n'))
	})
}
