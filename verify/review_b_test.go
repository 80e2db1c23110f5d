package verify_test

import (
	"context"
	"maps"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror/memmirror"
	idsync "github.com/idmirror/idmirror/sync"
	"github.com/idmirror/idmirror/verify"
)

// Review B: verify never compares the username of a matched user. A target
// user matched by the legacy-sub attribute (or by the mirror's origin link)
// whose username differs from the mirrored one — here "U1" for "u1" in a
// case-sensitive pool, where "u1" can no longer sign in — is reported equal.
func TestReviewBVerifyComparesUsernames(t *testing.T) {
	svc, _, src, dst := restored(t, "custom:legacy_sub")
	ctx := context.Background()
	old, err := svc.GetUser(ctx, dst, "u1")
	if err != nil {
		t.Fatal(err)
	}
	attrs := maps.Clone(old.Attributes)
	delete(attrs, "sub")
	if err := svc.DeleteUser(ctx, dst, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, dst, "U1", attrs, cognito.Suppress); err != nil {
		t.Fatal(err)
	}
	fresh := memmirror.New()
	if _, err := idsync.NewReconciler(svc, fresh, nil, nil, idsync.Options{Repair: true, Deep: true}).Run(ctx, src); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.New(fresh, svc, nil, zaptest.NewLogger(t)).Run(ctx, verify.Options{SourcePool: src, TargetPool: dst, LegacySubAttribute: "custom:legacy_sub"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Equal() {
		t.Fatalf("user u1 is U1 in the case-sensitive target (u1 cannot sign in), yet verify reports the pools equal: matched %d", rep.Matched)
	}
}
