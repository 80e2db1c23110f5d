package cognito

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter holds Cognito's request-rate quotas as token buckets: one per
// category, and one per pool and operation for the categories capped per
// pool. Cognito-side (the local fidelity proxy) it refuses calls over the
// quota; client-side (the Pacer) it makes callers wait.
type Limiter struct {
	rates   map[Category]float64
	scale   float64
	burst   func(rps float64) int
	mu      sync.Mutex
	allowMu sync.Mutex // makes Allow's check-then-take atomic across both buckets
	cats    map[Category]*rate.Limiter
	perPool map[string]*rate.Limiter
	lastCut map[Category]time.Time
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
		rates:   scaled,
		scale:   scale,
		burst:   func(rps float64) int { return max(1, int(math.Ceil(rps*burstSeconds))) },
		cats:    map[Category]*rate.Limiter{},
		perPool: map[string]*rate.Limiter{},
		lastCut: map[Category]time.Time{},
	}
}

// Rate returns the category's rate in requests per second.
func (l *Limiter) Rate(c Category) float64 {
	if r, ok := l.rates[c]; ok {
		return r
	}
	return l.rates[Uncategorized]
}

func (l *Limiter) buckets(op, pool string) (Category, *rate.Limiter, *rate.Limiter) {
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
	return c, cat, pp
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
	c, cat, pp := l.buckets(op, pool)
	l.allowMu.Lock()
	defer l.allowMu.Unlock()
	now := time.Now()
	if cat.TokensAt(now) < 1 || (pp != nil && pp.TokensAt(now) < 1) {
		return c, false
	}
	cat.AllowN(now, 1)
	if pp != nil {
		pp.AllowN(now, 1)
	}
	return c, true
}

// Wait blocks until op on pool is within the quota, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, op, pool string) error {
	_, cat, pp := l.buckets(op, pool)
	if pp != nil {
		if err := pp.Wait(ctx); err != nil {
			return err
		}
	}
	return cat.Wait(ctx)
}
