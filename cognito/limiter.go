package cognito

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter holds Cognito's request-rate quotas as token buckets: one per
// category, one per pool and operation for the categories capped per pool,
// and two per user (its reads and its writes, PerUserRate each). Cognito-side (the local fidelity proxy) it refuses calls over the
// quota; client-side (the Pacer) it makes callers wait.
type Limiter struct {
	rates    map[Category]float64
	scale    float64
	burst    func(rps float64) int
	mu       sync.Mutex
	allowMu  sync.Mutex // makes Allow's check-then-take atomic across both buckets
	cats     map[Category]*rate.Limiter
	perPool  map[string]*rate.Limiter
	perUser  map[string]*rate.Limiter // pool/access/username (lower case) → bucket
	userRate float64
	lastCut  map[Category]time.Time
}

const cutEvery = 500 * time.Millisecond

// NewLimiter returns a limiter at rates (nil: DefaultRates) times scale.
// Each bucket holds burst seconds of its rate (at least one token).
func NewLimiter(rates map[Category]float64, scale, burstSeconds float64) *Limiter {
	if rates == nil {
		rates = DefaultRates
	}
	scaled := make(map[Category]float64, len(rates))
	for c, r := range rates {
		scaled[c] = r * scale
	}
	return &Limiter{
		rates:    scaled,
		scale:    scale,
		burst:    func(rps float64) int { return max(1, int(math.Ceil(rps*burstSeconds))) },
		cats:     map[Category]*rate.Limiter{},
		perPool:  map[string]*rate.Limiter{},
		perUser:  map[string]*rate.Limiter{},
		userRate: PerUserRate * scale,
		lastCut:  map[Category]time.Time{},
	}
}

// WithPerUserRate sets the per-user rate (default PerUserRate times the
// scale) and returns l; call it before l is used. The fidelity proxy holds
// it at Cognito's real value whatever its rate scale: no account can change
// it.
func (l *Limiter) WithPerUserRate(rps float64) *Limiter {
	l.userRate = rps
	return l
}

// Rate returns the category's rate in requests per second.
func (l *Limiter) Rate(c Category) float64 {
	if r, ok := l.rates[c]; ok {
		return r
	}
	return l.rates[Uncategorized]
}

func (l *Limiter) buckets(op, pool string) (Category, *rate.Limiter, *rate.Limiter) {
	c, cat, pp, _ := l.userBuckets(op, pool, "")
	return c, cat, pp
}

// maxIdleUsers bounds the per-user buckets kept: past it, the full ones
// (those no different from a new bucket) are dropped.
const maxIdleUsers = 4096

// userBuckets returns op's category, its bucket, its per-pool bucket (nil
// unless capped per pool) and the bucket of user's reads or writes (nil for
// no user, or an operation not counted per user).
func (l *Limiter) userBuckets(op, pool, user string) (Category, *rate.Limiter, *rate.Limiter, *rate.Limiter) {
	c := CategoryOf(op)
	l.mu.Lock()
	defer l.mu.Unlock()
	cat, ok := l.cats[c]
	if !ok {
		r := l.Rate(c)
		cat = rate.NewLimiter(rate.Limit(r), l.burst(r))
		l.cats[c] = cat
	}
	var pp *rate.Limiter
	if PerPoolCapped(c) && pool != "" {
		k := pool + "/" + op
		pp, ok = l.perPool[k]
		if !ok {
			r := math.Min(PerPoolOperationRate*l.scale, l.Rate(c))
			pp = rate.NewLimiter(rate.Limit(r), l.burst(r))
			l.perPool[k] = pp
		}
	}
	var pu *rate.Limiter
	if a := UserAccess(op); a != NoUserAccess && user != "" {
		k := fmt.Sprintf("%s/%d/%s", pool, a, strings.ToLower(user))
		pu, ok = l.perUser[k]
		if !ok {
			if len(l.perUser) >= maxIdleUsers {
				now := time.Now()
				for k, b := range l.perUser {
					if b.TokensAt(now) >= float64(b.Burst()) {
						delete(l.perUser, k)
					}
				}
			}
			r := l.userRate
			pu = rate.NewLimiter(rate.Limit(r), l.burst(r))
			l.perUser[k] = pu
		}
	}
	return c, cat, pp, pu
}

// adapt multiplies the current rate of op's category by factor, within
// [configured/10, configured]: the Pacer slows down when Cognito throttles
// (the quota is shared with other traffic) and creeps back up on success.
// A cut happens at most once per cutEvery, so a burst of calls throttled
// together counts as one signal.
func (l *Limiter) adapt(op string, factor float64) {
	c, cat, _ := l.buckets(op, "")
	if factor < 1 {
		l.mu.Lock()
		now := time.Now()
		if now.Sub(l.lastCut[c]) < cutEvery {
			l.mu.Unlock()
			return
		}
		l.lastCut[c] = now
		l.mu.Unlock()
	}
	base := l.Rate(c)
	r := math.Max(base/10, math.Min(base, float64(cat.Limit())*factor))
	cat.SetLimit(rate.Limit(r))
}

// Allow takes a token for op on pool if one is there now, and reports the
// operation's category and whether the call is within the quota. A call
// refused by one bucket takes nothing from the other.
func (l *Limiter) Allow(op, pool string) (Category, bool) {
	c, ok, _ := l.AllowUser(op, pool, "")
	return c, ok
}

// AllowUser is Allow for a call on one user (its Username; "" for none): it
// also holds the user's reads or writes to PerUserRate. byUser reports a
// call refused by the per-user quota alone.
func (l *Limiter) AllowUser(op, pool, user string) (c Category, ok, byUser bool) {
	c, cat, pp, pu := l.userBuckets(op, pool, user)
	l.allowMu.Lock()
	defer l.allowMu.Unlock()
	now := time.Now()
	if cat.TokensAt(now) < 1 || (pp != nil && pp.TokensAt(now) < 1) {
		return c, false, false
	}
	if pu != nil && pu.TokensAt(now) < 1 {
		return c, false, true
	}
	for _, b := range []*rate.Limiter{cat, pp, pu} {
		if b != nil {
			b.AllowN(now, 1)
		}
	}
	return c, true, false
}

// Wait blocks until op on pool is within the quota, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, op, pool string) error {
	return l.WaitUser(ctx, op, pool, "")
}

// WaitUser is Wait for a call on one user ("" for none): it also waits for
// the user's per-user quota.
func (l *Limiter) WaitUser(ctx context.Context, op, pool, user string) error {
	_, cat, pp, pu := l.userBuckets(op, pool, user)
	for _, b := range []*rate.Limiter{pu, pp} {
		if b != nil {
			if err := b.Wait(ctx); err != nil {
				return err
			}
		}
	}
	return cat.Wait(ctx)
}
