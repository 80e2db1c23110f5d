package restore_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// BenchmarkRestore restores IDMIRROR_BENCH_USERS users (default 1000) in 3
// groups through a fidelity proxy whose quotas are Cognito's defaults times
// IDMIRROR_BENCH_SCALE (default 0.2: cognito-local is then not what limits
// the run), with the pacer at IDMIRROR_BENCH_SHARE of those quotas (default
// 0.9; 1 is `--quota-share 1`: pacer and proxy at one rate). It reports the wall
// time against the quota bound (for each category, its calls ÷ its rate;
// the slowest category bounds the run) and the peak heap.
//
//	go test -run XXX -bench Restore -benchtime 1x ./restore
func BenchmarkRestore(b *testing.B) {
	n, scale, share := 1000, 0.2, 0.9
	if s := os.Getenv("IDMIRROR_BENCH_SHARE"); s != "" {
		share, _ = strconv.ParseFloat(s, 64)
	}
	if s := os.Getenv("IDMIRROR_BENCH_USERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("IDMIRROR_BENCH_SCALE"); s != "" {
		scale, _ = strconv.ParseFloat(s, 64)
	}
	e := newEnv(b, "admins", "operators", "staff")
	e.seed(userList(n))
	e.mirrorSource()
	proxyURL := testenv.Proxy(b, scale)
	adapter := testenv.PacedPool(b, proxyURL, scale*share)
	for b.Loop() {
		b.StopTimer()
		target := newTarget(b, e.direct, nil)
		stop := sampleHeap()
		b.StartTimer()
		rep, err := restore.New(e.store, adapter, adapter.Pacer().Stats, nil).Run(context.Background(),
			restore.Options{SourcePool: e.source.ID, TargetPool: target.ID, PasswordMode: restore.Suppress, Concurrency: 32})
		b.StopTimer()
		peak := stop()
		if err != nil || rep.Counts[restore.Failed] != 0 {
			b.Fatalf("%v %v", err, rep.Counts)
		}
		wall := rep.FinishedAt.Sub(rep.StartedAt)
		counts := testenv.ProxyCounts(b, proxyURL, target.ID)
		per := map[cognito.Category]int{}
		for op, c := range counts {
			per[cognito.CategoryOf(op)] += c
		}
		var bound time.Duration
		var slowest cognito.Category
		var lines []string
		for c, calls := range per {
			rate := cognito.DefaultRates[c] * scale
			d := time.Duration(float64(calls) / rate * float64(time.Second))
			lines = append(lines, fmt.Sprintf("%s %d calls at %.1f/s = %s", c, calls, rate, d.Round(time.Millisecond)))
			if d > bound {
				bound, slowest = d, c
			}
		}
		b.Logf("restored %d users at %.2f× Cognito's rates, pacer at %.2f of them: wall %s, quota bound %s (%s), %.2f× the bound; %d calls, %d throttled (%.2f%%); peak heap %.1f MiB",
			n, scale, share, wall.Round(time.Millisecond), bound.Round(time.Millisecond), slowest, wall.Seconds()/bound.Seconds(), rep.Calls, rep.Throttled,
			100*float64(rep.Throttled)/float64(max(rep.Calls, 1)), float64(peak)/(1<<20))
		b.ReportMetric(100*float64(rep.Throttled)/float64(max(rep.Calls, 1)), "throttled-%")
		b.Logf("per category: %s", strings.Join(lines, "; "))
		b.ReportMetric(wall.Seconds()/bound.Seconds(), "wall/bound")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.StartTimer()
	}
}

// sampleHeap samples the heap in use until stopped and returns its peak.
func sampleHeap() func() uint64 {
	done := make(chan struct{})
	res := make(chan uint64)
	go func() {
		var peak uint64
		var m runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				res <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-res }
}
