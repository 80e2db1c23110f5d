package sync_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/idmirror/idmirror"
	idsync "github.com/idmirror/idmirror/sync"
)

// hiding is a pool reader whose listing misses some users: users that
// appeared after the listing read their page (confirmed mid-run).
type hiding struct {
	idsync.PoolReader
	hide map[string]bool
}

func (h hiding) ListUsers(ctx context.Context, pool string, fn func(idmirror.User, time.Time) error) error {
	return h.PoolReader.ListUsers(ctx, pool, func(u idmirror.User, at time.Time) error {
		if h.hide[u.Username] {
			return nil
		}
		return fn(u, at)
	})
}

// A user the listing missed but the pool has (confirmed during the run, and
// mirrored by the trigger) is not tombstoned: each candidate is read again
// before it is tombstoned.
func TestUserConfirmedDuringTheRunIsNotTombstoned(t *testing.T) {
	e := newEnv(t)
	e.createUser("early")
	sub := e.createUser("late")
	e.mustReconcile(idsync.Options{Repair: true})
	r := idsync.NewReconciler(hiding{e.adapt, map[string]bool{"late": true}}, e.store, nil, nil, idsync.Options{Repair: true, AllowMassTombstones: true})
	rep, err := r.Run(context.Background(), e.pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.GetUser(context.Background(), e.pool.ID, sub); got.Deleted {
		t.Fatalf("a user the pool still has was tombstoned: %+v", got.User)
	}
	if kinds(rep)[idsync.UserGone] != 0 {
		t.Fatalf("drift %+v: nothing is gone", rep.Drift)
	}
}

// A tombstone is dated at the read that found the user gone, not at the
// start of the run: a deletion found mid-run is not dated before it happened.
func TestTombstoneIsDatedAtTheReadThatFoundTheUserGone(t *testing.T) {
	e := newEnv(t)
	sub := e.createUser("leaver")
	e.createUser("stayer")
	e.createUser("stayer2")
	e.createUser("stayer3")
	e.createUser("stayer4")
	e.mustReconcile(idsync.Options{Repair: true})
	if _, err := e.direct.AdminDeleteUser(context.Background(), &cip.AdminDeleteUserInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String("leaver")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tick := time.Now()
	r := idsync.NewReconciler(e.adapt, e.store, nil, nil, idsync.Options{Repair: true})
	r.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); tick = tick.Add(time.Second); return tick })
	rep, err := r.Run(context.Background(), e.pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := e.store.UserHistory(context.Background(), e.pool.ID, sub)
	if err != nil || len(hist) == 0 {
		t.Fatal(hist, err)
	}
	last := hist[len(hist)-1]
	if last.State.Deleted != true || !last.At.After(rep.StartedAt) {
		t.Fatalf("tombstone at %v (deleted %v); the run started at %v: it must be dated at the re-read, later", last.At, last.State.Deleted, rep.StartedAt)
	}
}

// The valve refuses only when both the share and the count are exceeded: a
// pool of four that loses one user is not refused forever.
func TestSafetyValveLetsASmallPoolLoseAUser(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.createUser(userName(i))
	}
	e.mustReconcile(idsync.Options{Repair: true})
	if _, err := e.direct.AdminDeleteUser(context.Background(), &cip.AdminDeleteUserInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String(userName(0))}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.reconcile(idsync.Options{Repair: true})
	if err != nil || rep.Refused != "" || rep.Repaired != 1 {
		t.Fatalf("1 of 4 gone: %v, refused %q, repaired %d", err, rep.Refused, rep.Repaired)
	}
}

func TestSafetyValveOptionsAreChecked(t *testing.T) {
	for _, o := range []idsync.Options{
		{MaxTombstoneShare: math.NaN()}, {MaxTombstoneShare: math.Inf(1)}, {MaxTombstoneShare: -0.1}, {MaxTombstoneShare: 1.5}, {MaxTombstones: -1},
	} {
		err := o.Validate()
		if !errors.Is(err, idmirror.ErrInvalid) || !strings.Contains(err.Error(), "max tombstone") {
			t.Errorf("%+v: %v, want a clear ErrInvalid", o, err)
		}
		r := idsync.NewReconciler(nil, nil, nil, nil, o)
		if _, err := r.Run(context.Background(), "p"); !errors.Is(err, idmirror.ErrInvalid) {
			t.Errorf("Run with %+v: %v, want ErrInvalid before anything is read", o, err)
		}
	}
	if err := (idsync.Options{MaxTombstoneShare: 1, MaxTombstones: 0}).Validate(); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}
