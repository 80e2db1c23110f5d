package cognito

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
)

// PacerOptions tunes a Pacer.
type PacerOptions struct {
	// Rates per category (nil: DefaultRates).
	Rates map[Category]float64
	// Share of the rates the pacer uses (default 0.5: half of the account's
	// quota, leaving the rest to production traffic).
	Share float64
	// MaxBackoff caps the wait after a throttled call (default 5 s).
	MaxBackoff time.Duration
}

// Pacer paces calls per quota category and retries throttled calls with
// jittered exponential backoff, for as long as the context lasts: bulk jobs
// never give up on throttling alone. A throttled call cuts its category's
// pace by 30% (Cognito's quota is shared with production traffic), down to a
// tenth of the configured pace; each success raises it by 10%, up to the
// configured pace.
type Pacer struct {
	limiter    *Limiter
	maxBackoff time.Duration
	throttled  atomic.Int64
	calls      atomic.Int64
}

// NewPacer returns a pacer.
func NewPacer(o PacerOptions) *Pacer {
	if o.Share <= 0 {
		o.Share = 0.5
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	return &Pacer{limiter: NewLimiter(o.Rates, o.Share, 0), maxBackoff: o.MaxBackoff}
}

// Rate returns the pace of a category in calls per second.
func (p *Pacer) Rate(c Category) float64 { return p.limiter.Rate(c) }

// maxTransient bounds the retries of a call whose connection failed after
// the SDK's own retries (a lost response of a long run must not end it).
const maxTransient = 5

// Do runs call for operation op on pool at the category's pace, again and
// again while Cognito answers that it is throttled, and a few more times when
// the connection failed. Every operation idmirror calls is safe to repeat
// (a create that did land answers "exists", which callers handle).
func (p *Pacer) Do(ctx context.Context, op, pool string, call func(context.Context) error) error {
	return p.DoUser(ctx, op, pool, "", call)
}

// DoUser is Do for a call on one user (its Username; "" for none): it also
// keeps the user's reads and writes each within PerUserRate (times the
// share), as Cognito counts them.
func (p *Pacer) DoUser(ctx context.Context, op, pool, user string, call func(context.Context) error) error {
	backoff := 50 * time.Millisecond
	transient := 0
	for {
		if err := p.limiter.WaitUser(ctx, op, pool, user); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The limiter saw that the next token comes after the deadline.
			return fmt.Errorf("%s: no quota left before the deadline: %w", op, context.DeadlineExceeded)
		}
		p.calls.Add(1)
		err := call(ctx)
		switch {
		case IsThrottle(err):
			p.throttled.Add(1)
			p.limiter.adapt(op, 0.7)
		case isTransient(err) && transient < maxTransient && ctx.Err() == nil:
			transient++
		default:
			if !isTransient(err) { // an answer, not a lost connection: the quota let it through
				p.limiter.adapt(op, 1.1)
			}
			return err
		}
		d := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(d):
		}
		backoff = min(backoff*2, p.maxBackoff)
	}
}

// Stats returns how many calls the pacer made and how many were throttled.
func (p *Pacer) Stats() (calls, throttled int64) { return p.calls.Load(), p.throttled.Load() }

// isTransient reports a failure of the connection rather than an answer:
// the request may or may not have been carried out.
func isTransient(err error) bool {
	var ne net.Error
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &ne)
}

// IsThrottle reports whether err is Cognito refusing a call for its quota.
func IsThrottle(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded":
		return true
	}
	return false
}

// Since returns a function that reports the calls and throttled calls stats
// counted since Since was called (zeros for a nil stats).
func Since(stats func() (calls, throttled int64)) func() (calls, throttled int64) {
	if stats == nil {
		return func() (int64, int64) { return 0, 0 }
	}
	c0, t0 := stats()
	return func() (int64, int64) {
		c, t := stats()
		return c - c0, t - t0
	}
}
