package drill_test

import (
	"context"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror/drill"
)

// Review B: a drill deletes, at its start, every scratch pool of the same
// source created before it began — including the pool of a drill of the same
// source that is still running (the scheduled Lambda and an operator's
// `idmirror drill`, or a Lambda retry overlapping a slow run). The running
// drill then fails with its pool gone, and the DrillFailed alarm fires for a
// restore that was fine.
func TestReviewBDrillDoesNotDeleteARunningDrillsPool(t *testing.T) {
	w := newWorld(t, 20)
	ctx := context.Background()
	d := drill.New(w.store, w.svc, nil, nil, zaptest.NewLogger(t))
	var second *drill.Report
	_, err := d.Run(ctx, drill.Options{SourcePool: w.source, BeforeVerify: func(ctx context.Context, scratch string) error {
		var err error
		second, err = d.Run(ctx, drill.Options{SourcePool: w.source})
		if err != nil {
			t.Errorf("second drill: %v", err)
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("the first drill failed because the second deleted its scratch pool (cleaned %v): %v", second.Cleaned, err)
	}
}
