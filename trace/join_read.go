package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// DecodeHalf reads one node's half of a path for JoinTraces from any
// JSON vmtrace and the exporter write: a recorded observation (vmtrace
// -record; judged here with JudgeHalf), a NodeTrace (vmtrace -all -json,
// the exporter's traces endpoint), a ServerTrace (vmtrace -server -json)
// or a Trace (vmtrace -mac/-tap/-port -json). The shape is told by its
// fields. A ServerTrace's or a Trace's node is the one its traces' Link
// facts name. It is pure.
func DecodeHalf(data []byte) (*NodeTrace, error) {
	var shape struct {
		Version  *int            `json:"version"`
		Request  json.RawMessage `json:"request"`
		Node     *string         `json:"node"`
		ServerID *string         `json:"server_id"`
		Traces   json.RawMessage `json:"traces"`
		Hops     json.RawMessage `json:"hops"`
	}
	if err := json.Unmarshal(data, &shape); err != nil {
		return nil, fmt.Errorf("trace: read a half: %w (want the JSON of vmtrace -json or -record, or an exporter's traces)", err)
	}
	switch {
	case shape.Version != nil && shape.Request != nil:
		o, err := ReadObservation(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return JudgeHalf(o)
	case shape.Node != nil && shape.Traces != nil:
		var nt NodeTrace
		if err := json.Unmarshal(data, &nt); err != nil {
			return nil, fmt.Errorf("trace: read a node's traces: %w", err)
		}
		return &nt, nil
	case shape.ServerID != nil && shape.Traces != nil:
		var st ServerTrace
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("trace: read a server's traces: %w", err)
		}
		return halfOf(linkNode(st.Traces), st.Role, st.Traces), nil
	case shape.Hops != nil:
		var t Trace
		if err := json.Unmarshal(data, &t); err != nil {
			return nil, fmt.Errorf("trace: read a trace: %w", err)
		}
		return halfOf(linkNode([]*Trace{&t}), t.Role, []*Trace{&t}), nil
	}
	return nil, fmt.Errorf("%w: the JSON is neither an observation nor a NodeTrace, ServerTrace or Trace", ErrJoin)
}

// ReadHalfFile reads the half in path (see DecodeHalf).
func ReadHalfFile(path string) (*NodeTrace, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	nt, err := DecodeHalf(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nt, nil
}

// linkNode is the node the traces' Link facts name ("" when none does).
func linkNode(ts []*Trace) string {
	for _, t := range ts {
		if t.Link != nil && t.Link.Node != "" {
			return t.Link.Node
		}
	}
	return ""
}
