package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
)

// secretRE matches what must never leave the node in a recording: a
// token or password handed in an error message or fault text (an
// observation holds no credentials, but the API's and the daemons' error
// texts are recorded as they came).
var secretRE = regexp.MustCompile(`(?i)((?:x-(?:auth|subject)-token|token|password|passwd|secret|application_credential_secret|authorization)(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)([^\s"'\\,;}]+)`)

// Redacted returns a copy of o with every string that looks like a
// credential (a token, password or secret after its key) replaced by
// "[redacted]". WriteFile and Write record redacted observations.
func (o *Observation) Redacted() (*Observation, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("trace: encode the observation: %w", err)
	}
	b = redact(b)
	var out Observation
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("trace: decode the redacted observation: %w", err)
	}
	return &out, nil
}

func redact(b []byte) []byte {
	return secretRE.ReplaceAll(b, []byte("${1}[redacted]"))
}

// Write writes o, redacted (see Redacted), as indented JSON.
func (o *Observation) Write(w io.Writer) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("trace: encode the observation: %w", err)
	}
	b = append(redact(b), '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("trace: write the observation: %w", err)
	}
	return nil
}

// WriteFile writes o, redacted, to path (mode 0600: it describes the
// node's networks), replacing the file.
func (o *Observation) WriteFile(path string) error {
	var buf bytes.Buffer
	if err := o.Write(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("trace: record the observation: %w", err)
	}
	return nil
}

// ReadObservation reads an observation Write wrote. The error says when
// it is not one, or of another Version.
func ReadObservation(r io.Reader) (*Observation, error) {
	var o Observation
	d := json.NewDecoder(r)
	if err := d.Decode(&o); err != nil {
		return nil, fmt.Errorf("trace: read an observation: %w (want the JSON vmtrace -record writes)", err)
	}
	if o.Version != ObservationVersion {
		return nil, fmt.Errorf("%w: version %d, this trace reads version %d: replay it with the vmtrace that recorded it", ErrReplay, o.Version, ObservationVersion)
	}
	return &o, nil
}

// ReadObservationFile reads the observation recorded in path.
func ReadObservationFile(path string) (*Observation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trace: replay: %w", err)
	}
	defer f.Close()
	return ReadObservation(f)
}
