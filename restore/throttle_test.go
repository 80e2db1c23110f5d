package restore_test

import (
	"testing"

	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// A pacer set far above the quotas of a proxy at a fifth of Cognito's rates:
// throttling is sustained (far more throttled calls than the SDK's default
// retry token bucket absorbs: 500 tokens, 5 a retry), and the restore still
// completes, exactly.
func TestRestoreSurvivesSustainedThrottling(t *testing.T) {
	e := newEnv(t, "admins", "operators", "staff")
	e.seed(userList(80))
	e.mirrorSource()
	want, wantGroups := snapshot(t, e.direct, e.source.ID)

	greedy := testenv.PacedPool(t, testenv.Proxy(t, 0.2), 20)
	target := e.target()
	r := restore.New(e.store, greedy, greedy.Pacer().Stats, nil)
	rep, err := r.Run(t.Context(), restore.Options{SourcePool: e.source.ID, TargetPool: target.ID, PasswordMode: restore.Suppress, Concurrency: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls, %d throttled, %s", rep.Calls, rep.Throttled, rep.FinishedAt.Sub(rep.StartedAt))
	if rep.Throttled <= 100 {
		t.Fatalf("only %d throttled calls: the test did not sustain throttling", rep.Throttled)
	}
	if rep.Counts[restore.Create] != 80 || rep.Counts[restore.Failed] != 0 {
		t.Fatalf("counts %v", rep.Counts)
	}
	got, gotGroups := snapshot(t, e.direct, target.ID)
	compare(t, "group", wantGroups, gotGroups)
	compare(t, "user", want, got)
}
