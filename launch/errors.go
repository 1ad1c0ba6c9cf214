package launch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// Sentinels callers branch on.
var (
	// ErrNotFound: a named flavor, image, network, group or server does not
	// exist. It satisfies errors.Is(err, fs.ErrNotExist).
	ErrNotFound = fmt.Errorf("launch: not found: %w", fs.ErrNotExist)
	// ErrAmbiguous: a name matches more than one object; the error lists
	// the candidates' IDs.
	ErrAmbiguous = errors.New("launch: ambiguous name")
	// ErrMismatch: an object of that name exists with other properties
	// (flavor size, network type, subnet CIDR, keypair public key); it is
	// not reused silently.
	ErrMismatch = errors.New("launch: existing object differs")
	// ErrServerError: the server went to status ERROR (see *FaultError).
	ErrServerError = errors.New("launch: server went to ERROR")
	// ErrFileExists: the private key file already exists; it is never
	// overwritten.
	ErrFileExists = fmt.Errorf("launch: refusing to overwrite: %w", fs.ErrExist)
)

// APIError is an OpenStack call that failed: the request (method and URL,
// never headers or body), the status, and the service's own message.
type APIError struct {
	// Op says what was asked ("create server cirros1").
	Op string `json:"op"`
	// Method and URL of the request that failed (URL without credentials).
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
	// Status is the HTTP status; 0 when no response came (connection reset).
	Status int `json:"status,omitempty"`
	// Message is the service's message (Nova's badRequest.message,
	// Neutron's NeutronError.message), or the transport error.
	Message string `json:"message"`
	// Attempts is how many times the request was tried.
	Attempts int `json:"attempts"`
	// RetryAfter is the server's Retry-After on a 429, if any.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	err        error
}

// Error says what was asked, what the service answered and how many tries it took.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "launch: %s: ", e.Op)
	if e.Method != "" {
		fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	b.WriteString(e.Message)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(" (" + hint + ")")
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "the credentials were refused"
	case e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Message), "quota exceeded"):
		// Nova answers an over-quota create with 403 too.
		return "over the project's quota: ask for less or raise it with `openstack quota set`"
	case e.Status == http.StatusForbidden:
		return "this needs the admin role in the project"
	case e.Status == http.StatusTooManyRequests:
		return "rate limited: retry later or raise the limit"
	case e.Status >= 500:
		return "the service failed: see its log for the request id"
	case e.Status == 0 && e.Method != "":
		return "no answer: is the endpoint in the catalog reachable from here?"
	}
	return ""
}

// Unwrap returns the underlying error.
func (e *APIError) Unwrap() error { return e.err }

// Is makes a 404 match ErrNotFound and fs.ErrNotExist.
func (e *APIError) Is(target error) bool {
	return e.Status == http.StatusNotFound && (target == ErrNotFound || target == fs.ErrNotExist)
}

// Fault is Nova's account of why a server is in ERROR.
type Fault struct {
	// Code, Message, Details and Created are Nova's fault fields.
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Details string    `json:"details,omitempty"`
	Created time.Time `json:"created"`
}

// Is matches ErrServerError.
func (e *FaultError) Is(target error) bool { return target == ErrServerError }

// classify says whether err is worth another try, and how long to wait
// first (0: use the back-off).
func classify(err error, create bool) (time.Duration, bool) {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		switch {
		case ue.Actual == http.StatusTooManyRequests:
			return parseRetryAfter(ue.ResponseHeader), true
		case ue.Actual == http.StatusConflict:
			return 0, create
		case ue.Actual == http.StatusInternalServerError, ue.Actual == http.StatusBadGateway,
			ue.Actual == http.StatusServiceUnavailable, ue.Actual == http.StatusGatewayTimeout:
			if ra := parseRetryAfter(ue.ResponseHeader); ra > 0 {
				return ra, true
			}
			return 0, true
		}
		return 0, false
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return 0, true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return 0, true
	}
	return 0, false
}

func isStatus(err error, status int) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == status
	}
	return gophercloud.ResponseCodeIs(err, status)
}

// wrapAPI turns a gophercloud or transport error into an *APIError.
func wrapAPI(op string, err error, attempts int) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	e := &APIError{Op: op, Attempts: attempts, err: err}
	var ue gophercloud.ErrUnexpectedResponseCode
	var uerr *url.Error
	switch {
	case errors.As(err, &ue):
		e.Method, e.URL, e.Status = ue.Method, cleanURL(ue.URL), ue.Actual
		e.Message = serviceMessage(ue.Body)
		if ue.Actual == http.StatusTooManyRequests {
			e.RetryAfter = parseRetryAfter(ue.ResponseHeader)
		}
	case errors.As(err, &uerr):
		e.Method, e.URL = strings.ToUpper(uerr.Op), cleanURL(uerr.URL)
		e.Message = uerr.Err.Error()
	default:
		e.Message = err.Error()
	}
	return e
}

// serviceMessage extracts the human message of an OpenStack error body:
// {"badRequest": {"message": …}}, {"NeutronError": {"message": …}},
// {"error": {"message": …}}, or Glance's plain text. The body is never
// returned whole.
func serviceMessage(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		for k, raw := range m {
			var inner struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			}
			if json.Unmarshal(raw, &inner) == nil && inner.Message != "" {
				if inner.Type != "" {
					return inner.Type + ": " + inner.Message
				}
				return inner.Message
			}
			if k == "message" || k == "error_message" {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					return s
				}
			}
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// cleanURL drops user info from a URL (tokens never travel in URLs in
// OpenStack, but a misconfigured auth_url might hold a password).
func cleanURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}
