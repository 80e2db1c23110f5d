// Package mirrortest is the conformance suite of the mirror's stores: every
// store that keeps the mirror (mirror.Store on DynamoDB, memmirror.Store in
// memory) must pass Run, so that tests run against the in-memory store
// say something about the DynamoDB one.
//
//	func TestStore(t *testing.T) {
//		mirrortest.Run(t, func(t *testing.T) mirrortest.Store { return newEmptyStore(t) })
//	}
package mirrortest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror"
)

// Store is what the mirror's consumers (sync, restore, audit, the
// triggers) use of a store: the reads and writes every store implements.
type Store interface {
	PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error)
	GetUser(ctx context.Context, pool, sub string) (idmirror.UserRecord, error)
	FindByUsername(ctx context.Context, pool, username string) ([]idmirror.UserRecord, error)
	FindByEmail(ctx context.Context, pool, email string) ([]idmirror.UserRecord, error)
	UserHistory(ctx context.Context, pool, sub string) ([]idmirror.Entry[idmirror.User], error)
	UserAsOf(ctx context.Context, pool, sub string, t time.Time) (idmirror.User, error)

	PutGroup(ctx context.Context, w idmirror.GroupWrite) (idmirror.Outcome, error)
	GetGroup(ctx context.Context, pool, name string) (idmirror.GroupRecord, error)
	Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error)
	GroupHistory(ctx context.Context, pool, name string) ([]idmirror.Entry[idmirror.Group], error)
	GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error)
	Members(ctx context.Context, pool, group string, at time.Time) ([]idmirror.Membership, error)

	PutPoolConfig(ctx context.Context, cfg idmirror.PoolConfig, at time.Time, src idmirror.Source) (idmirror.Outcome, error)
	PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error)
	PutRoleMap(ctx context.Context, pool string, m idmirror.RoleMap, at time.Time, src idmirror.Source) (idmirror.Outcome, error)
	RoleMapAsOf(ctx context.Context, pool string, t time.Time) (idmirror.RoleMap, error)

	Changes(ctx context.Context, q idmirror.ChangeQuery, fn func(idmirror.Change) error) error
	ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error
	ExplainChange(ctx context.Context, e idmirror.Explanation) (bool, error)
	Observe(fn idmirror.ChangeObserver)
	PutIntent(ctx context.Context, in mirror.Intent) error
	Intent(ctx context.Context, pool, username string) (mirror.Intent, error)
}

// Run runs the suite: one subtest per case, each on a new, empty store from
// newStore (which may skip or fail t, and should clean up after it).
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			c.run(t, s)
		})
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, s Store)
}{
	{"UserWriteAndLookups", userWriteAndLookups},
	{"SeveralPoolsInOneTable", severalPoolsInOneTable},
	{"IdempotentReplay", idempotentReplay},
	{"NewerObservationThatChangesNothing", newerObservationThatChangesNothing},
	{"NeverRegresses", neverRegresses},
	{"Tombstone", tombstone},
	{"TombstoneOfUnknownUser", tombstoneOfUnknownUser},
	{"TombstoneNeverOverridesANewerObservation", tombstoneNeverOverridesANewerObservation},
	{"AsOfAcrossChanges", asOfAcrossChanges},
	{"MembersAsOfAfterGrantAndRevoke", membersAsOfAfterGrantAndRevoke},
	{"ObservationTimesUTCNanoseconds", observationTimesUTCNanoseconds},
	{"GroupsConfigAndRoleMap", groupsConfigAndRoleMap},
	{"ChangesWindowBySource", changesWindowBySource},
	{"ExportParallelSegmentsAndPages", exportParallelSegmentsAndPages},
	{"ConcurrentWritersLoseNoUpdate", concurrentWritersLoseNoUpdate},
	{"ActorsRecordedAndLateActorAttached", actorsRecordedAndLateActorAttached},
	{"ObserverSeesEveryCommittedChange", observerSeesEveryCommittedChange},
	{"Intents", intents},
	{"BadWritesWriteNothing", badWritesWriteNothing},
	{"LateObservationReachesLaterHistory", lateObservationReachesLaterHistory},
	{"LateGroupsOfANewUserInventNothing", lateGroupsOfANewUserInventNothing},
	{"TransactionItemLimit", transactionItemLimit},
	{"ReturnedValuesAreCopies", returnedValuesAreCopies},
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func alice(pool string) idmirror.User {
	return idmirror.User{PoolID: pool, Sub: "sub-alice", Username: "alice",
		Attributes: map[string]string{"email": "Alice@Example.com", "custom:tenant": "t1"},
		Status:     "CONFIRMED", Enabled: true, Groups: []string{"admins"}}
}

func put(t *testing.T, s Store, w idmirror.UserWrite) idmirror.Outcome {
	t.Helper()
	o, err := s.PutUser(context.Background(), w)
	if err != nil {
		t.Fatalf("PutUser(%s at %s): %v", w.User.Sub, w.At, err)
	}
	return o
}

func mustHistory(t *testing.T, s Store, pool, sub string, want int) []idmirror.Entry[idmirror.User] {
	t.Helper()
	h, err := s.UserHistory(context.Background(), pool, sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != want {
		t.Fatalf("history of %s: %d items, want %d: %+v", sub, len(h), want, h)
	}
	return h
}

// forEach runs fn(i) for every i in [0, n) on workers goroutines and fails
// t with the first error.
func forEach(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

// changeCount counts the pool's changes observed in [from, to].
func changeCount(t *testing.T, s Store, pool string, from, to time.Time) int {
	t.Helper()
	n := 0
	if err := s.Changes(context.Background(), idmirror.ChangeQuery{PoolID: pool, From: from, To: to}, func(idmirror.Change) error {
		n++
		return nil
	}); err != nil {
		t.Fatalf("Changes: %v", err)
	}
	return n
}

func userWriteAndLookups(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("pool-a")
	if o := put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceTrigger}); o != idmirror.Changed {
		t.Fatalf("first write: %v, want changed", o)
	}
	got, err := s.GetUser(ctx, "pool-a", "sub-alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Email() != "Alice@Example.com" || !got.Enabled || got.Version != 1 ||
		got.Source != idmirror.SourceTrigger || !got.ObservedAt.Equal(at(1)) || fmt.Sprint(got.Groups) != "[admins]" {
		t.Fatalf("GetUser = %+v", got)
	}
	if !got.Memberships["admins"].Equal(at(1)) {
		t.Fatalf("membership since = %v", got.Memberships)
	}
	byName, err := s.FindByUsername(ctx, "pool-a", "alice")
	if err != nil || len(byName) != 1 || byName[0].Sub != "sub-alice" {
		t.Fatalf("FindByUsername = %+v, %v", byName, err)
	}
	byEmail, err := s.FindByEmail(ctx, "pool-a", "alice@example.COM")
	if err != nil || len(byEmail) != 1 || byEmail[0].Sub != "sub-alice" {
		t.Fatalf("FindByEmail = %+v, %v", byEmail, err)
	}
	if other, err := s.FindByUsername(ctx, "pool-b", "alice"); err != nil || len(other) != 0 {
		t.Fatalf("pool-b must not see pool-a's user: %+v, %v", other, err)
	}
	if _, err := s.GetUser(ctx, "pool-a", "nobody"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("GetUser(nobody) err = %v, want ErrNotFound", err)
	}
	h := mustHistory(t, s, "pool-a", "sub-alice", 1)
	if h[0].Source != idmirror.SourceTrigger || h[0].Fields["email"].After != "Alice@Example.com" || h[0].Fields["email"].Before != "" {
		t.Fatalf("history[0] = %+v", h[0])
	}
	if _, ok := h[0].Fields["sub"]; ok {
		t.Fatal("sub must not be an attribute field")
	}
}

func severalPoolsInOneTable(t *testing.T, s Store) {
	ctx := context.Background()
	a, b := alice("pool-a"), alice("pool-b")
	b.Attributes = map[string]string{"email": "other@example.com"}
	put(t, s, idmirror.UserWrite{User: a, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	put(t, s, idmirror.UserWrite{User: b, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	ga, _ := s.GetUser(ctx, "pool-a", "sub-alice")
	gb, _ := s.GetUser(ctx, "pool-b", "sub-alice")
	if ga.Email() != "Alice@Example.com" || gb.Email() != "other@example.com" {
		t.Fatalf("pools mixed: %v / %v", ga.Attributes, gb.Attributes)
	}
}

func idempotentReplay(t *testing.T, s Store) {
	w := idmirror.UserWrite{User: alice("p"), Fields: idmirror.FieldAttributes | idmirror.FieldStatus, At: at(1), Source: idmirror.SourceTrigger}
	put(t, s, w)
	if o := put(t, s, w); o != idmirror.Stale {
		t.Fatalf("replay: %v, want stale", o)
	}
	mustHistory(t, s, "p", "sub-alice", 1)
}

func newerObservationThatChangesNothing(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("p")
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceTrigger})
	if o := put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(5), Source: idmirror.SourceSync}); o != idmirror.Unchanged {
		t.Fatalf("same state, newer: %v, want unchanged", o)
	}
	mustHistory(t, s, "p", "sub-alice", 1)
	got, _ := s.GetUser(ctx, "p", "sub-alice")
	if !got.ObservedAt.Equal(at(5)) || got.Version != 2 {
		t.Fatalf("clock not moved: %+v", got.Meta)
	}
	// An observation from between the two is now older than the stored one.
	old := u
	old.Enabled = false
	if o := put(t, s, idmirror.UserWrite{User: old, Fields: idmirror.FieldEnabled, At: at(3), Source: idmirror.SourceEvent}); o != idmirror.Stale {
		t.Fatalf("older than the moved clock: %v, want stale", o)
	}
}

func neverRegresses(t *testing.T, s Store) {
	ctx := context.Background()
	newer := alice("p")
	newer.Attributes = map[string]string{"email": "new@example.com"}
	older := alice("p")
	older.Attributes = map[string]string{"email": "old@example.com"}
	older.Groups = []string{"operators"}
	put(t, s, idmirror.UserWrite{User: newer, Fields: idmirror.FieldAttributes, At: at(10), Source: idmirror.SourceEvent})
	// The older observation carries attributes (older than stored: ignored)
	// and groups (never observed yet: taken).
	if o := put(t, s, idmirror.UserWrite{User: older, Fields: idmirror.FieldAttributes | idmirror.FieldGroups, At: at(5), Source: idmirror.SourceSync}); o != idmirror.Changed {
		t.Fatalf("older write with an unseen field group: %v, want changed", o)
	}
	got, _ := s.GetUser(ctx, "p", "sub-alice")
	if got.Email() != "new@example.com" {
		t.Fatalf("email regressed to %q", got.Email())
	}
	if fmt.Sprint(got.Groups) != "[operators]" {
		t.Fatalf("groups = %v", got.Groups)
	}
	if !got.ObservedAt.Equal(at(10)) {
		t.Fatalf("observedAt regressed: %v", got.ObservedAt)
	}
	// Entirely older: nothing.
	if o := put(t, s, idmirror.UserWrite{User: older, Fields: idmirror.FieldAttributes | idmirror.FieldGroups, At: at(4), Source: idmirror.SourceSync}); o != idmirror.Stale {
		t.Fatalf("entirely older write: %v, want stale", o)
	}
	// The groups seen at +5, before the mirror knew the user whole (its
	// attributes then were not taken), are told by the user's first item.
	if h := mustHistory(t, s, "p", "sub-alice", 1); h[0].Fields["groups"].After != "operators" || fmt.Sprint(h[0].State.Groups) != "[operators]" {
		t.Fatalf("first item %+v", h[0])
	}
}

func tombstone(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("p")
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	if o := put(t, s, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "sub-alice"}, Delete: true, At: at(2), Source: idmirror.SourceEvent}); o != idmirror.Changed {
		t.Fatalf("delete: %v", o)
	}
	got, err := s.GetUser(ctx, "p", "sub-alice")
	if err != nil {
		t.Fatalf("a tombstone must stay readable: %v", err)
	}
	if !got.Deleted || got.Email() != "Alice@Example.com" || fmt.Sprint(got.Groups) != "[admins]" || got.Username != "alice" {
		t.Fatalf("tombstone must keep the last state: %+v", got)
	}
	if len(got.Memberships) != 0 {
		t.Fatalf("a tombstone holds no membership: %v", got.Memberships)
	}
	members, _ := s.Members(ctx, "p", "admins", time.Time{})
	if len(members) != 0 {
		t.Fatalf("deleted user still a member: %+v", members)
	}
	before, _ := s.Members(ctx, "p", "admins", at(1))
	if len(before) != 1 || before[0].Sub != "sub-alice" || !before[0].RevokedAt.Equal(at(2)) {
		t.Fatalf("members as of before the deletion: %+v", before)
	}
	h := mustHistory(t, s, "p", "sub-alice", 2)
	if h[1].Fields["deleted"].After != "true" || h[1].Source != idmirror.SourceEvent {
		t.Fatalf("tombstone history: %+v", h[1])
	}
	// Replaying the deletion changes nothing; deleting an unknown user is ErrNotFound.
	if o := put(t, s, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "sub-alice"}, Delete: true, At: at(2), Source: idmirror.SourceEvent}); o != idmirror.Stale {
		t.Fatalf("replayed delete: %v", o)
	}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "ghost"}, Delete: true, At: at(3), Source: idmirror.SourceSync}); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	if _, err := s.GetUser(ctx, "p", "ghost"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("deleting an unknown user wrote something: %v", err)
	}
}

func asOfAcrossChanges(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("p")
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(10), Source: idmirror.SourceTrigger})
	u.Attributes = map[string]string{"email": "a2@example.com", "custom:tenant": "t2"}
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes, At: at(20), Source: idmirror.SourceEvent})
	u.Enabled = false
	u.Groups = []string{"operators"}
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(30), Source: idmirror.SourceSync})
	put(t, s, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "sub-alice"}, Delete: true, At: at(40), Source: idmirror.SourceSync})

	cases := []struct {
		min              int
		email, groups    string
		enabled, deleted bool
		notFound         bool
	}{
		{min: 5, notFound: true},
		{min: 10, email: "Alice@Example.com", groups: "[admins]", enabled: true},
		{min: 15, email: "Alice@Example.com", groups: "[admins]", enabled: true},
		{min: 25, email: "a2@example.com", groups: "[admins]", enabled: true},
		{min: 35, email: "a2@example.com", groups: "[operators]"},
		{min: 45, email: "a2@example.com", groups: "[operators]", deleted: true},
	}
	for _, c := range cases {
		got, err := s.UserAsOf(ctx, "p", "sub-alice", at(c.min))
		if c.notFound {
			if !errors.Is(err, idmirror.ErrNotFound) {
				t.Errorf("as of +%d: err %v, want ErrNotFound", c.min, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("as of +%d: %v", c.min, err)
		}
		if got.Email() != c.email || fmt.Sprint(got.Groups) != c.groups || got.Enabled != c.enabled || got.Deleted != c.deleted {
			t.Errorf("as of +%d: %+v", c.min, got)
		}
	}
	// Membership intervals: admins [10,30), operators [30,40).
	for _, c := range []struct {
		group string
		min   int
		want  int
	}{{"admins", 9, 0}, {"admins", 10, 1}, {"admins", 29, 1}, {"admins", 30, 0}, {"operators", 35, 1}, {"operators", 40, 0}} {
		m, err := s.Members(ctx, "p", c.group, at(c.min))
		if err != nil || len(m) != c.want {
			t.Errorf("members of %s as of +%d: %+v, %v; want %d", c.group, c.min, m, err, c.want)
		}
	}
}

func groupsConfigAndRoleMap(t *testing.T, s Store) {
	ctx := context.Background()
	p := int32(1)
	g := idmirror.Group{PoolID: "p", Name: "admins", Description: "Administrators", Precedence: &p, RoleArn: "arn:aws:iam::123456789012:role/admin"}
	if o, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at(1), Source: idmirror.SourceSync}); err != nil || o != idmirror.Changed {
		t.Fatalf("PutGroup: %v %v", o, err)
	}
	if o, _ := s.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at(1), Source: idmirror.SourceSync}); o != idmirror.Stale {
		t.Fatalf("replayed group: %v", o)
	}
	g.Description = "Admins"
	if o, _ := s.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at(5), Source: idmirror.SourceEvent}); o != idmirror.Changed {
		t.Fatalf("updated group: %v", o)
	}
	ops := idmirror.Group{PoolID: "p", Name: "operators"}
	s.PutGroup(ctx, idmirror.GroupWrite{Group: ops, At: at(2), Source: idmirror.SourceSync})
	if o, _ := s.PutGroup(ctx, idmirror.GroupWrite{Group: ops, Delete: true, At: at(9), Source: idmirror.SourceEvent}); o != idmirror.Changed {
		t.Fatalf("deleted group: %v", o)
	}
	all, err := s.Groups(ctx, "p")
	if err != nil || len(all) != 2 {
		t.Fatalf("Groups = %+v, %v", all, err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	if all[0].Description != "Admins" || *all[0].Precedence != 1 || !all[1].Deleted {
		t.Fatalf("Groups = %+v", all)
	}
	old, err := s.GroupAsOf(ctx, "p", "admins", at(3))
	if err != nil || old.Description != "Administrators" {
		t.Fatalf("GroupAsOf = %+v, %v", old, err)
	}
	gh, _ := s.GroupHistory(ctx, "p", "admins")
	if len(gh) != 2 || gh[1].Fields["description"] != (idmirror.FieldChange{Before: "Administrators", After: "Admins"}) {
		t.Fatalf("GroupHistory = %+v", gh)
	}

	cfg := idmirror.PoolConfig{PoolID: "p", Name: "pool", MFA: "OPTIONAL", UsernameAttributes: []string{"email"},
		Schema: []idmirror.SchemaAttribute{{Name: "email", DataType: "String", Mutable: true}, {Name: "custom:tenant", DataType: "String", Mutable: true}}}
	if o, err := s.PutPoolConfig(ctx, cfg, at(1), idmirror.SourceSync); err != nil || o != idmirror.Changed {
		t.Fatalf("PutPoolConfig: %v %v", o, err)
	}
	gotCfg, _, err := s.PoolConfig(ctx, "p")
	if err != nil || len(gotCfg.Schema) != 2 || gotCfg.MFA != "OPTIONAL" {
		t.Fatalf("PoolConfig = %+v, %v", gotCfg, err)
	}

	rm := idmirror.DefaultRoleMap()
	if o, err := s.PutRoleMap(ctx, "p", rm, at(1), idmirror.SourceSync); err != nil || o != idmirror.Changed {
		t.Fatalf("PutRoleMap: %v %v", o, err)
	}
	rm2 := idmirror.RoleMap{Roles: []idmirror.Role{{Name: "admin", Groups: []string{"admins", "root"}}}}
	s.PutRoleMap(ctx, "p", rm2, at(10), idmirror.SourceSync)
	then, err := s.RoleMapAsOf(ctx, "p", at(5))
	if err != nil || len(then.Roles) != 2 {
		t.Fatalf("RoleMapAsOf(+5) = %+v, %v", then, err)
	}
	now, _ := s.RoleMapAsOf(ctx, "p", time.Time{})
	if len(now.Roles) != 1 || len(now.Roles[0].Groups) != 2 {
		t.Fatalf("RoleMapAsOf(now) = %+v", now)
	}
	if _, err := s.PutRoleMap(ctx, "p", idmirror.RoleMap{}, at(11), idmirror.SourceSync); !errors.Is(err, idmirror.ErrInvalid) {
		t.Fatalf("empty role map: %v", err)
	}
}

func changesWindowBySource(t *testing.T, s Store) {
	ctx := context.Background()
	day := 24 * 60
	for i := range 30 {
		u := alice("p")
		u.Sub = fmt.Sprintf("sub-%02d", i)
		u.Username = fmt.Sprintf("user-%02d", i)
		src := idmirror.SourceSync
		if i%3 == 0 {
			src = idmirror.SourceTrigger
		}
		put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(i * day / 10), Source: src}) // 3 days
	}
	var all []idmirror.Change
	err := s.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: at(0), To: at(3 * day)}, func(c idmirror.Change) error {
		all = append(all, c)
		return nil
	})
	if err != nil || len(all) != 30 {
		t.Fatalf("all changes: %d, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Before(all[i-1].At) {
			t.Fatalf("changes out of order at %d", i)
		}
	}
	var triggers, window int
	s.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: at(0), To: at(3 * day), Source: idmirror.SourceTrigger}, func(c idmirror.Change) error {
		if c.Source != idmirror.SourceTrigger {
			t.Errorf("source filter leaked %v", c.Source)
		}
		triggers++
		return nil
	})
	s.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: at(day / 2), To: at(day)}, func(c idmirror.Change) error {
		window++
		return nil
	})
	if triggers != 10 || window != 6 { // i = 5..10
		t.Fatalf("triggers = %d (want 10), window = %d (want 6)", triggers, window)
	}
}

func exportParallelSegmentsAndPages(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 260
	forEach(t, n, 8, func(i int) error {
		u := alice("p")
		u.Sub, u.Username = fmt.Sprintf("sub-%03d", i), fmt.Sprintf("user-%03d", i)
		_, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(i), Source: idmirror.SourceSync})
		return err
	})
	put(t, s, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "sub-007"}, Delete: true, At: at(1000), Source: idmirror.SourceSync})
	other := alice("other-pool")
	put(t, s, idmirror.UserWrite{User: other, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})

	for _, segs := range []int{1, 4, 16} {
		var mu sync.Mutex
		seen := map[string]int{}
		deleted := 0
		err := s.ExportUsers(ctx, "p", idmirror.ExportOptions{Segments: segs, PageSize: 7}, func(r idmirror.UserRecord) error {
			mu.Lock()
			defer mu.Unlock()
			seen[r.Sub]++
			if r.Deleted {
				deleted++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != n || deleted != 1 {
			t.Fatalf("segments=%d: %d users, %d tombstones; want %d, 1", segs, len(seen), deleted, n)
		}
		for sub, c := range seen {
			if c != 1 {
				t.Fatalf("segments=%d: %s exported %d times", segs, sub, c)
			}
		}
	}
	// As of +100 minutes: users 0..100 existed, none deleted yet.
	var mu sync.Mutex
	count := 0
	err := s.ExportUsers(ctx, "p", idmirror.ExportOptions{Segments: 4, AsOf: at(100)}, func(r idmirror.UserRecord) error {
		mu.Lock()
		defer mu.Unlock()
		if r.Deleted {
			t.Errorf("%s deleted as of +100", r.Sub)
		}
		count++
		return nil
	})
	if err != nil || count != 101 {
		t.Fatalf("as-of export: %d users, %v; want 101", count, err)
	}
	// An error from fn stops the export and is returned.
	boom := errors.New("boom")
	if err := s.ExportUsers(ctx, "p", idmirror.ExportOptions{Segments: 4}, func(idmirror.UserRecord) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("export error = %v, want boom", err)
	}
}

func concurrentWritersLoseNoUpdate(t *testing.T, s Store) {
	ctx := context.Background()
	put(t, s, idmirror.UserWrite{User: alice("p"), Fields: idmirror.AllFields, At: at(0), Source: idmirror.SourceSync})
	var clock atomic.Int64
	const rounds = 25
	var wg sync.WaitGroup
	var lastAttr, lastGroup atomic.Int64
	writer := func(fields idmirror.Fields, last *atomic.Int64) {
		defer wg.Done()
		for range rounds {
			tick := clock.Add(1)
			u := alice("p")
			u.Attributes = map[string]string{"email": "Alice@Example.com", "custom:tenant": "t1", "custom:seq": fmt.Sprint(tick)}
			u.Groups = []string{fmt.Sprintf("g%03d", tick)}
			if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: fields, At: at(0).Add(time.Duration(tick) * time.Second), Source: idmirror.SourceEvent}); err != nil {
				t.Error(err)
				return
			}
			for {
				old := last.Load()
				if tick <= old || last.CompareAndSwap(old, tick) {
					break
				}
			}
		}
	}
	wg.Add(2)
	go writer(idmirror.FieldAttributes, &lastAttr)
	go writer(idmirror.FieldGroups, &lastGroup)
	wg.Wait()
	got, _ := s.GetUser(ctx, "p", "sub-alice")
	if got.Attributes["custom:seq"] != fmt.Sprint(lastAttr.Load()) {
		t.Errorf("attributes lost an update: seq %s, want %d", got.Attributes["custom:seq"], lastAttr.Load())
	}
	if fmt.Sprint(got.Groups) != fmt.Sprintf("[g%03d]", lastGroup.Load()) {
		t.Errorf("groups lost an update: %v, want g%03d", got.Groups, lastGroup.Load())
	}
	// Each writer's field group has its own clock, so every write was newer
	// than the stored one for its group and left one history item.
	mustHistory(t, s, "p", "sub-alice", 1+2*rounds)
	if got.Version != 1+2*rounds {
		t.Errorf("version = %d, want %d", got.Version, 1+2*rounds)
	}
	// Membership intervals stay consistent: exactly one group is open.
	if len(got.Memberships) != 1 {
		t.Errorf("open memberships = %v", got.Memberships)
	}
}

func badWritesWriteNothing(t *testing.T, s Store) {
	ctx := context.Background()
	good := idmirror.UserWrite{User: alice("p"), Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync}
	cases := map[string]func(w *idmirror.UserWrite){
		"no pool":   func(w *idmirror.UserWrite) { w.User.PoolID = "" },
		"no sub":    func(w *idmirror.UserWrite) { w.User.Sub = "" },
		"no source": func(w *idmirror.UserWrite) { w.Source = "" },
		"bad src":   func(w *idmirror.UserWrite) { w.Source = "admin-console" },
		"no time":   func(w *idmirror.UserWrite) { w.At = time.Time{} },
		"no fields": func(w *idmirror.UserWrite) { w.Fields = 0 },
	}
	for name, mutate := range cases {
		w := good
		mutate(&w)
		if _, err := s.PutUser(ctx, w); !errors.Is(err, idmirror.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.GetUser(ctx, "p", "sub-alice"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("a rejected write left state: %v", err)
	}
	// A window needs a start: each day of it is read.
	if err := s.Changes(ctx, idmirror.ChangeQuery{PoolID: "p"}, func(idmirror.Change) error { return nil }); !errors.Is(err, idmirror.ErrInvalid) {
		t.Errorf("changes with no From: %v, want ErrInvalid", err)
	}
}

// A partial observation that arrives after a newer one of other fields (sync
// reads groups before it lists users) still shows in every later state.
func lateObservationReachesLaterHistory(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("p")
	u.Groups = nil
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes | idmirror.FieldStatus, At: at(10), Source: idmirror.SourceSync})
	u.Attributes = map[string]string{"email": "new@example.com"}
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes, At: at(20), Source: idmirror.SourceEvent})
	u.Groups = []string{"admins"}
	if o := put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(5), Source: idmirror.SourceSync}); o != idmirror.Changed {
		t.Fatalf("late groups: %v", o)
	}
	for _, c := range []struct {
		min           int
		email, groups string
	}{{10, "Alice@Example.com", "[admins]"}, {25, "new@example.com", "[admins]"}} {
		got, err := s.UserAsOf(ctx, "p", "sub-alice", at(c.min))
		if err != nil || got.Email() != c.email || fmt.Sprint(got.Groups) != c.groups {
			t.Errorf("as of +%d: %+v %v; want email %q groups %s", c.min, got, err, c.email, c.groups)
		}
	}
	// Before the first whole observation the mirror did not know the user:
	// the groups seen at +5 invent no state of their own (no phantom).
	if got, err := s.UserAsOf(ctx, "p", "sub-alice", at(5)); !errors.Is(err, idmirror.ErrNotFound) {
		t.Errorf("as of +5: %+v %v; want not found", got, err)
	}
	// Removing the group late too.
	u.Groups = nil
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(7), Source: idmirror.SourceSync})
	if got, _ := s.UserAsOf(ctx, "p", "sub-alice", at(30)); len(got.Groups) != 0 {
		t.Errorf("late removal not seen as of +30: %v", got.Groups)
	}
}

// A reconcile reads memberships before it lists users, so the groups of a
// user it sees first are an observation older than the user's first item.
// That observation must not invent the fields it did not see: no history item
// before the user was observed whole; the first item tells the groups.
// (Moved from mirror/phantom_test.go.)
func lateGroupsOfANewUserInventNothing(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("pool-p")
	listed := idmirror.AllFields &^ idmirror.FieldGroups
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: listed, At: at(2), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(1), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	hist, err := s.UserHistory(ctx, "pool-p", u.Sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || !hist[0].At.Equal(at(2)) {
		t.Fatalf("history: %d items (%+v), want one, at the first whole observation", len(hist), hist)
	}
	if fmt.Sprint(hist[0].State.Groups) != "[admins]" || hist[0].Fields["groups"] != (idmirror.FieldChange{After: "admins"}) || hist[0].Fields["email"].After == "" {
		t.Fatalf("first item: state groups %v, changes %v", hist[0].State.Groups, hist[0].Fields)
	}
	if _, err := s.UserAsOf(ctx, "pool-p", u.Sub, at(1)); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("as of the groups observation the user was not known whole: %v", err)
	}
	if ms, err := s.Members(ctx, "pool-p", "admins", at(1)); err != nil || len(ms) != 1 {
		t.Fatalf("the membership observed at 1 holds from 1: %v %v", ms, err)
	}
	// A later but still earlier-than-the-first-item observation of no groups:
	// the first item's state and changes are recounted, not left saying admins.
	u.Groups = nil
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(1).Add(30 * time.Second), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	hist, _ = s.UserHistory(ctx, "pool-p", u.Sub)
	if _, ok := hist[0].Fields["groups"]; len(hist) != 1 || len(hist[0].State.Groups) != 0 || ok {
		t.Fatalf("after a late removal: %d items, state groups %v, changes %v", len(hist), hist[0].State.Groups, hist[0].Fields)
	}
}
