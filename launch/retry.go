package launch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// Retries are gophercloud's: the RetryFunc and RetryBackoffFunc hooks of
// the ProviderClient that carries the Client's requests decide, per HTTP
// request, whether to try again and how long to wait first. call puts
// what the hooks need to know about the API call (its name for the log,
// whether it creates, how many tries it took) in the request's context.

// callState is one API call as the retry hooks see it.
type callState struct {
	op     string
	create bool

	mu       sync.Mutex
	attempts int
	// note says why the last failure was not retried, when that was a
	// deadline or a cancelled wait ("" otherwise); cause is the context's
	// error then.
	note  string
	cause error
}

type callKey struct{}

// call runs fn (one gophercloud call, or a few) with a callState in its
// context, and turns its error into an *APIError naming op and the tries.
func call(ctx context.Context, op string, create bool, fn func(context.Context) error) error {
	st := &callState{op: op, create: create}
	err := fn(context.WithValue(ctx, callKey{}, st))
	if err == nil {
		return nil
	}
	st.mu.Lock()
	attempts, note, cause := max(st.attempts, 1), st.note, st.cause
	st.mu.Unlock()
	e := wrapAPI(op, err, attempts)
	switch {
	case cause != nil:
		return fmt.Errorf("%w (%s: %w)", e, note, cause)
	case note != "":
		return fmt.Errorf("%w (%s)", e, note)
	}
	return e
}

// retrier is the decision behind both hooks, for one Client's Config.
type retrier struct {
	cfg *Config
	log *slog.Logger
}

// retry is gophercloud's RetryFunc: nil means try again (after the wait
// it sleeps here), an error ends the request with it. failCount counts
// this request's failures, 1 first.
func (r retrier) retry(ctx context.Context, method, url string, _ *gophercloud.RequestOpts, err error, failCount uint) error {
	st, _ := ctx.Value(callKey{}).(*callState)
	if st == nil {
		st = &callState{op: method + " " + cleanURL(url)}
	}
	st.mu.Lock()
	st.attempts = int(failCount)
	st.mu.Unlock()
	wait, transient := classify(err, st.create)
	if !transient || int(failCount) >= r.cfg.MaxAttempts || ctx.Err() != nil {
		return err
	}
	if wait == 0 {
		// RetryBase doubled per failure, up to RetryMax, ±20 % jitter.
		backoff := r.cfg.RetryBase
		for i := uint(1); i < failCount && backoff < r.cfg.RetryMax; i++ {
			backoff *= 2
		}
		backoff = min(backoff, r.cfg.RetryMax)
		wait = time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
	}
	wait = min(wait, r.cfg.RetryMax)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		st.mu.Lock()
		st.note = fmt.Sprintf("not retried: the next try in %s would be after the context deadline", wait)
		st.mu.Unlock()
		return err
	}
	r.log.LogAttrs(ctx, slog.LevelDebug, "retrying transient openstack error", slog.String("op", st.op), slog.Int("attempt", int(failCount)), slog.Duration("wait", wait), slog.String("error", wrapAPI(st.op, err, int(failCount)).Error()))
	if serr := sleep(ctx, wait); serr != nil {
		st.mu.Lock()
		st.note, st.cause = "gave up waiting to retry", ctx.Err()
		st.mu.Unlock()
		return err
	}
	return nil
}

// backoff is gophercloud's RetryBackoffFunc, called for a 429: the same
// decision, so Retry-After is honoured up to RetryMax.
func (r retrier) backoff(ctx context.Context, respErr *gophercloud.ErrUnexpectedResponseCode, _ error, failCount uint) error {
	if respErr == nil {
		return errors.New("launch: rate limited without a response")
	}
	return r.retry(ctx, respErr.Method, respErr.URL, nil, *respErr, failCount)
}

// setRetryHooks makes p retry the way cfg says. p must be the Client's
// own (Open's provider, or New's copy), never the caller's.
func setRetryHooks(p *gophercloud.ProviderClient, cfg *Config, log *slog.Logger) {
	r := retrier{cfg: cfg, log: log}
	p.RetryFunc = r.retry
	p.RetryBackoffFunc = r.backoff
	// Tries, not retries: the fifth 429 goes on to RetryFunc, which
	// gives up at MaxAttempts.
	p.MaxBackoffRetries = uint(max(cfg.MaxAttempts-1, 1))
}

// clientCopier copies a caller's service clients for New: each onto one
// copy of its ProviderClient that carries the retry hooks.
type clientCopier struct {
	cfg       *Config
	log       *slog.Logger
	providers map[*gophercloud.ProviderClient]*gophercloud.ProviderClient
}

func (cc clientCopier) service(sc *gophercloud.ServiceClient) *gophercloud.ServiceClient {
	out := *sc
	if orig := sc.ProviderClient; orig != nil {
		p, ok := cc.providers[orig]
		if !ok {
			p = retryingCopy(orig, cc.cfg, cc.log)
			cc.providers[orig] = p
		}
		out.ProviderClient = p
	}
	return &out
}

// retryingCopy returns a copy of orig with the retry hooks, leaving orig
// as it was. The copy has its own token lock and starts with orig's
// token; when a request on it is refused (401) it re-authenticates
// through orig (orig.Reauthenticate, which skips the work if orig's token
// is already newer than the copy's) and takes orig's token, so the two
// never log in twice for one expiry and orig's own reauth func (which
// writes orig's token, not a copy's) is the only one that runs.
func retryingCopy(orig *gophercloud.ProviderClient, cfg *Config, log *slog.Logger) *gophercloud.ProviderClient {
	p := &gophercloud.ProviderClient{
		IdentityBase:     orig.IdentityBase,
		IdentityEndpoint: orig.IdentityEndpoint,
		EndpointLocator:  orig.EndpointLocator,
		HTTPClient:       orig.HTTPClient,
		UserAgent:        orig.UserAgent,
		Throwaway:        orig.IsThrowaway(),
	}
	p.UseTokenLock()
	p.CopyTokenFrom(orig)
	if orig.ReauthFunc != nil {
		p.ReauthFunc = func(ctx context.Context) error {
			if err := orig.Reauthenticate(ctx, p.Token()); err != nil {
				return err
			}
			p.CopyTokenFrom(orig)
			return nil
		}
	}
	setRetryHooks(p, cfg, log)
	return p
}

// call is the package's call with the Client's requests: every API call
// of a Client goes through it.
func (c *Client) call(ctx context.Context, op string, create bool, fn func(context.Context) error) error {
	return call(ctx, op, create, fn)
}
