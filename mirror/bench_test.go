package mirror_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// BenchmarkExport streams IDMIRROR_BENCH_USERS users (default 10000) of one
// pool from DynamoDB Local, with 1 and with 4 parallel segments.
//
//	go test -run XXX -bench Export -benchtime 3x ./mirror
func BenchmarkExport(b *testing.B) {
	n := 10000
	if s := os.Getenv("IDMIRROR_BENCH_USERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	db := testenv.DynamoDB(b)
	s := mirror.New(db, testenv.NewTable(b, db), nil)
	ctx := context.Background()
	start := time.Now()
	testenv.ForEach(b, n, 16, func(i int) error {
		u := idmirror.User{PoolID: "p", Sub: fmt.Sprintf("sub-%06d", i), Username: fmt.Sprintf("user%06d", i), Enabled: true,
			Attributes: map[string]string{"email": fmt.Sprintf("user%06d@example.com", i), "custom:tenant": "t1"}, Groups: []string{"staff"}}
		_, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: time.Now(), Source: idmirror.SourceSync})
		return err
	})
	b.Logf("wrote %d users (state, history and membership in one transaction each) in %s", n, time.Since(start).Round(time.Millisecond))
	for _, segs := range []int{1, 4} {
		b.Run(fmt.Sprintf("segments-%d", segs), func(b *testing.B) {
			for b.Loop() {
				var count atomic.Int64
				if err := s.ExportUsers(ctx, "p", idmirror.ExportOptions{Segments: segs}, func(idmirror.UserRecord) error {
					count.Add(1)
					return nil
				}); err != nil || count.Load() != int64(n) {
					b.Fatalf("%d users, %v", count.Load(), err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}
