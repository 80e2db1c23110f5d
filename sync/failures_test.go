package sync_test

import (
	"context"
	"errors"
	"testing"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/cognito/mempool"
	"github.com/idmirror/idmirror/mirror/memmirror"
	idsync "github.com/idmirror/idmirror/sync"
)

// poisoned is a mirror that cannot write one user (say, more items than one
// transaction holds).
type poisoned struct {
	*memmirror.Store
	sub string
}

func (p poisoned) PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error) {
	if w.User.Sub == p.sub {
		return 0, errors.New("write too large for one transaction")
	}
	return p.Store.PutUser(ctx, w)
}

// One user that cannot be written is reported and skipped: every other user
// is reconciled, the tombstones are written, and the run ends with
// ErrUserFailures naming it — not cancelled at the first error, every hour.
func TestOneBadUserDoesNotStopTheReconcile(t *testing.T) {
	ctx := context.Background()
	pools := mempool.New(mempool.Options{PageSize: 3})
	pool := pools.CreatePool(mempool.PoolOptions{Name: "p"})
	var subs []string
	for _, name := range []string{"ann", "bob", "cat", "dan", "eve", "fay"} {
		u, err := pools.CreateUser(ctx, pool, name, map[string]string{"email": name + "@example.com"}, cognito.Suppress)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, u.Sub)
	}
	store := poisoned{Store: memmirror.New()}
	if _, err := idsync.NewReconciler(pools, store, nil, nil, idsync.Options{Repair: true}).Run(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// ann leaves; dan becomes unwritable.
	if err := pools.DeleteUser(ctx, pool, "ann"); err != nil {
		t.Fatal(err)
	}
	store.sub = subs[3]
	for _, name := range []string{"bob", "dan", "fay"} {
		if err := pools.SetEnabled(ctx, pool, name, false); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := idsync.NewReconciler(pools, store, nil, nil, idsync.Options{Repair: true, Concurrency: 1}).Run(ctx, pool)
	if !errors.Is(err, idsync.ErrUserFailures) || len(rep.Failed) != 1 || rep.Failed[0].Sub != subs[3] {
		t.Fatalf("err %v, failed %+v; want ErrUserFailures naming dan", err, rep.Failed)
	}
	for i, name := range []string{"bob", "fay"} {
		if u, _ := store.GetUser(ctx, pool, subs[[]int{1, 5}[i]]); u.Enabled {
			t.Errorf("%s was not reconciled after dan failed", name)
		}
	}
	if u, _ := store.GetUser(ctx, pool, subs[0]); !u.Deleted {
		t.Error("ann was not tombstoned: the run stopped before its end")
	}
}
