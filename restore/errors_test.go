package restore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/restore"
)

// flakyMirror fails UserAsOf from its nth call on.
type flakyMirror struct {
	restore.Mirror
	failFrom int32
	calls    atomic.Int32
	err      error
}

func (m *flakyMirror) UserAsOf(ctx context.Context, pool, sub string, t time.Time) (idmirror.User, error) {
	if m.calls.Add(1) >= m.failFrom {
		return idmirror.User{}, m.err
	}
	return m.Mirror.UserAsOf(ctx, pool, sub, t)
}

// A --user restore reads its users from the mirror once, before anything is
// written: an error there keeps its cause and truly wrote nothing; no read
// after the groups are written can fail the run as a "preflight" error.
func TestUserRestoreReadsTheMirrorOnceAndKeepsTheCause(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "ann", groups: []string{"admins"}, tenant: "t1"}})
	e.mirrorSource()
	boom := errors.New("the mirror's table is throttled")
	ctx := context.Background()

	target := e.target()
	first := &flakyMirror{Mirror: e.store, failFrom: 1, err: boom}
	_, err := restore.New(first, e.adapt, nil, nil).Run(ctx, restore.Options{SourcePool: e.source.ID, TargetPool: target.ID,
		PasswordMode: restore.Suppress, Users: []string{"ann"}})
	if !errors.Is(err, boom) || !errors.Is(err, restore.ErrPreflight) {
		t.Fatalf("err = %v: want the cause (errors.Is) and ErrPreflight", err)
	}
	if users, groups := snapshot(t, e.direct, target.ID); len(users)+len(groups) != 0 {
		t.Fatalf("a preflight failure wrote %d users and %d groups", len(users), len(groups))
	}

	later := &flakyMirror{Mirror: e.store, failFrom: 2, err: boom}
	rep, err := restore.New(later, e.adapt, nil, nil).Run(ctx, restore.Options{SourcePool: e.source.ID, TargetPool: target.ID,
		PasswordMode: restore.Suppress, Users: []string{"ann"}})
	if err != nil || rep.Counts[restore.Create] != 1 {
		t.Fatalf("the run read the mirror again after writing groups: %v %v", err, rep.Counts)
	}
}
