package mirrortest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
)

// Cases added with the in-memory store: what both stores must agree on
// beyond the original DynamoDB tests.

// Deleting a user the mirror never saw is ErrNotFound and writes nothing.
func tombstoneOfUnknownUser(t *testing.T, s Store) {
	ctx := context.Background()
	ghost := idmirror.User{PoolID: "p", Sub: "ghost", Username: "ghost", Groups: []string{"admins"}}
	for _, src := range []idmirror.Source{idmirror.SourceSync, idmirror.SourceEvent} {
		o, err := s.PutUser(ctx, idmirror.UserWrite{User: ghost, Delete: true, At: at(3), Source: src})
		if !errors.Is(err, idmirror.ErrNotFound) {
			t.Fatalf("tombstone of a never-seen user (%s): %v, %v; want ErrNotFound", src, o, err)
		}
	}
	// With observed fields too: still a tombstone, still nothing to keep.
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: ghost, Fields: idmirror.AllFields, Delete: true, At: at(4), Source: idmirror.SourceSync}); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("tombstone with fields of a never-seen user: %v; want ErrNotFound", err)
	}
	nothingWritten(t, s, "p", "ghost", "ghost", "admins")
	if n := changeCount(t, s, "p", at(0), at(10)); n != 0 {
		t.Fatalf("%d changes recorded for a refused tombstone", n)
	}
	// The user the mirror then sees is new: its first write is a change.
	if o := put(t, s, idmirror.UserWrite{User: ghost, Fields: idmirror.AllFields, At: at(5), Source: idmirror.SourceSync}); o != idmirror.Changed {
		t.Fatalf("first write after a refused tombstone: %v", o)
	}
	mustHistory(t, s, "p", "ghost", 1)
}

// A tombstone is refused (stale) unless it is newer than the newest
// observation of the user, whatever field groups that observation saw: a
// writer whose clock is behind cannot delete a user seen alive later.
func tombstoneNeverOverridesANewerObservation(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("p")
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	u.Status = "RESET_REQUIRED"
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldStatus, At: at(10), Source: idmirror.SourceEvent})
	gone := idmirror.User{PoolID: "p", Sub: "sub-alice"}
	for _, m := range []int{5, 10} {
		if o := put(t, s, idmirror.UserWrite{User: gone, Delete: true, At: at(m), Source: idmirror.SourceSync}); o != idmirror.Stale {
			t.Fatalf("tombstone at +%d, user observed at +10: %v, want stale", m, o)
		}
	}
	got, _ := s.GetUser(ctx, "p", "sub-alice")
	if got.Deleted || got.Version != 2 || len(got.Memberships) != 1 {
		t.Fatalf("a stale tombstone changed the user: %+v", got)
	}
	mustHistory(t, s, "p", "sub-alice", 2)
	if o := put(t, s, idmirror.UserWrite{User: gone, Delete: true, At: at(10).Add(time.Nanosecond), Source: idmirror.SourceSync}); o != idmirror.Changed {
		t.Fatalf("tombstone just after the newest observation: %v, want changed", o)
	}
	if got, _ := s.GetUser(ctx, "p", "sub-alice"); !got.Deleted || len(got.Memberships) != 0 {
		t.Fatalf("tombstone: %+v", got)
	}
}

// nothingWritten checks that the mirror holds nothing of the user.
func nothingWritten(t *testing.T, s Store, pool, sub, username string, groups ...string) {
	t.Helper()
	ctx := context.Background()
	if got, err := s.GetUser(ctx, pool, sub); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("GetUser(%s) = %+v, %v; want ErrNotFound", sub, got, err)
	}
	if h, err := s.UserHistory(ctx, pool, sub); err != nil || len(h) != 0 {
		t.Fatalf("UserHistory(%s) = %+v, %v; want none", sub, h, err)
	}
	if got, err := s.UserAsOf(ctx, pool, sub, at(100000)); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("UserAsOf(%s) = %+v, %v; want ErrNotFound", sub, got, err)
	}
	if found, err := s.FindByUsername(ctx, pool, username); err != nil || len(found) != 0 {
		t.Fatalf("FindByUsername(%s) = %+v, %v; want none", username, found, err)
	}
	for _, g := range groups {
		for _, when := range []time.Time{{}, at(100000)} {
			if m, err := s.Members(ctx, pool, g, when); err != nil || len(m) != 0 {
				t.Fatalf("Members(%s, %v) = %+v, %v; want none", g, when, m, err)
			}
		}
	}
}

// Members as of an instant answers with the intervals that held then:
// granted at or before it, not revoked at or before it.
func membersAsOfAfterGrantAndRevoke(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("p") // in admins
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(10), Source: idmirror.SourceSync})
	bob := idmirror.User{PoolID: "p", Sub: "sub-bob", Username: "bob", Enabled: true, Groups: []string{"admins"}}
	put(t, s, idmirror.UserWrite{User: bob, Fields: idmirror.AllFields, At: at(15), Source: idmirror.SourceTrigger})
	u.Groups = nil
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(20), Source: idmirror.SourceEvent})
	u.Groups = []string{"admins"}
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(30), Source: idmirror.SourceSync})

	first := idmirror.Membership{Group: "admins", Sub: "sub-alice", Username: "alice",
		GrantedAt: at(10), GrantedBy: idmirror.SourceSync, RevokedAt: at(20), RevokedBy: idmirror.SourceEvent}
	second := idmirror.Membership{Group: "admins", Sub: "sub-alice", Username: "alice", GrantedAt: at(30), GrantedBy: idmirror.SourceSync}
	bobs := idmirror.Membership{Group: "admins", Sub: "sub-bob", Username: "bob", GrantedAt: at(15), GrantedBy: idmirror.SourceTrigger}
	for _, c := range []struct {
		name string
		at   time.Time
		want []idmirror.Membership
	}{
		{"before the grant", at(10).Add(-time.Nanosecond), nil},
		{"at the grant", at(10), []idmirror.Membership{first}},
		{"after bob's grant", at(16), []idmirror.Membership{first, bobs}},
		{"just before the revoke", at(20).Add(-time.Nanosecond), []idmirror.Membership{first, bobs}},
		{"at the revoke", at(20), []idmirror.Membership{bobs}},
		{"between", at(25), []idmirror.Membership{bobs}},
		{"at the new grant", at(30), []idmirror.Membership{bobs, second}},
		{"later", at(60), []idmirror.Membership{bobs, second}},
		{"now", time.Time{}, []idmirror.Membership{bobs, second}},
	} {
		got, err := s.Members(ctx, "p", "admins", c.at)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !sameMemberships(got, c.want) {
			t.Errorf("members of admins %s (%v):\n got %+v\nwant %+v", c.name, c.at, got, c.want)
		}
	}
	if m, err := s.Members(ctx, "p", "nobody", time.Time{}); err != nil || len(m) != 0 {
		t.Errorf("members of an unknown group: %+v, %v", m, err)
	}
	if m, err := s.Members(ctx, "other-pool", "admins", at(25)); err != nil || len(m) != 0 {
		t.Errorf("members of the same group in another pool: %+v, %v", m, err)
	}
	got, _ := s.GetUser(ctx, "p", "sub-alice")
	if len(got.Memberships) != 1 || !got.Memberships["admins"].Equal(at(30)) {
		t.Errorf("open memberships = %v, want admins since +30", got.Memberships)
	}
}

func sameMemberships(got, want []idmirror.Membership) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Group != w.Group || g.Sub != w.Sub || g.Username != w.Username || !g.GrantedAt.Equal(w.GrantedAt) ||
			g.GrantedBy != w.GrantedBy || !g.RevokedAt.Equal(w.RevokedAt) || g.RevokedBy != w.RevokedBy {
			return false
		}
	}
	return true
}

// Observation times are kept in UTC and compared at nanosecond precision,
// whatever the location of the time a writer passes.
func observationTimesUTCNanoseconds(t *testing.T, s Store) {
	ctx := context.Background()
	plus2 := time.FixedZone("UTC+2", 2*60*60)
	u := alice("p")
	if o := put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1).In(plus2), Source: idmirror.SourceSync, SourceTime: at(0).In(plus2)}); o != idmirror.Changed {
		t.Fatalf("first write: %v", o)
	}
	got, err := s.GetUser(ctx, "p", "sub-alice")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(what string, tm time.Time, want time.Time) {
		t.Helper()
		if !tm.Equal(want) || tm.Location() != time.UTC {
			t.Errorf("%s = %v (%v), want %v in UTC", what, tm, tm.Location(), want)
		}
	}
	utc("ObservedAt", got.ObservedAt, at(1))
	utc("ChangedAt", got.ChangedAt, at(1))
	utc("clock of attributes", got.Clocks["attributes"], at(1))
	utc("membership since", got.Memberships["admins"], at(1))
	h := mustHistory(t, s, "p", "sub-alice", 1)
	utc("history At", h[0].At, at(1))
	utc("history SourceTime", h[0].SourceTime, at(0))

	// The same instant, written in UTC, is not newer.
	v := u
	v.Status = "RESET_REQUIRED"
	if o := put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.FieldStatus, At: at(1), Source: idmirror.SourceEvent}); o != idmirror.Stale {
		t.Fatalf("same instant in another location: %v, want stale", o)
	}
	// One nanosecond later is.
	later := at(1).Add(time.Nanosecond)
	if o := put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.FieldStatus, At: later, Source: idmirror.SourceEvent}); o != idmirror.Changed {
		t.Fatalf("one nanosecond later: %v, want changed", o)
	}
	for _, c := range []struct {
		at     time.Time
		status string
	}{{at(1), "CONFIRMED"}, {at(1).In(plus2), "CONFIRMED"}, {later, "RESET_REQUIRED"}, {later.In(plus2), "RESET_REQUIRED"}} {
		got, err := s.UserAsOf(ctx, "p", "sub-alice", c.at)
		if err != nil || got.Status != c.status {
			t.Errorf("as of %v: %q, %v; want %q", c.at, got.Status, err, c.status)
		}
	}
	if _, err := s.UserAsOf(ctx, "p", "sub-alice", at(1).Add(-time.Nanosecond)); !errors.Is(err, idmirror.ErrNotFound) {
		t.Errorf("as of a nanosecond before the first observation: %v, want ErrNotFound", err)
	}
	if m, _ := s.Members(ctx, "p", "admins", at(1).Add(-time.Nanosecond)); len(m) != 0 {
		t.Errorf("member a nanosecond before the grant: %+v", m)
	}
	if m, _ := s.Members(ctx, "p", "admins", at(1).In(plus2)); len(m) != 1 {
		t.Errorf("members at the grant (another location): %+v", m)
	}
	// A window of one nanosecond holds exactly the change observed then.
	for _, w := range []time.Time{at(1), later} {
		if n := changeCount(t, s, "p", w.In(plus2), w); n != 1 {
			t.Errorf("changes in [%v, %v]: %d, want 1", w, w, n)
		}
	}
	// A time with a monotonic reading is stored without it.
	now := time.Now()
	v.Status = "CONFIRMED"
	put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.FieldStatus, At: now, Source: idmirror.SourceEvent})
	got, _ = s.GetUser(ctx, "p", "sub-alice")
	utc("ObservedAt of a time.Now()", got.ObservedAt, now)
	if got.ObservedAt != now.UTC().Round(0) {
		t.Errorf("ObservedAt = %#v, want %#v", got.ObservedAt, now.UTC().Round(0))
	}
}

// One DynamoDB transaction holds 100 items. A user's membership intervals
// never make a write too large — Cognito allows 100 groups per user, and
// mirror.Store writes the intervals that do not fit right after the
// transaction — but the state, its history item and the late-observation
// patch of later history items must commit together: a write that needs
// more than 100 of those is refused and writes nothing. The suite accepts
// any error for it: memmirror.Store's wraps memmirror.ErrTransactionTooLarge,
// mirror.Store's mirror.ErrTooLarge (one sentinel for both is to come).
func transactionItemLimit(t *testing.T, s Store) {
	ctx := context.Background()
	groups := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%03d", prefix, i)
		}
		return out
	}
	open := func(gs []string, when time.Time) int {
		t.Helper()
		n := 0
		for _, g := range gs {
			ms, err := s.Members(ctx, "p", g, when)
			if err != nil {
				t.Fatal(err)
			}
			n += len(ms)
		}
		return n
	}
	// A new user in 100 groups: state + history + 100 grants.
	u := alice("p")
	u.Groups = groups("g", 100)
	if o := put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync}); o != idmirror.Changed {
		t.Fatalf("a user in 100 groups: %v", o)
	}
	got, err := s.GetUser(ctx, "p", "sub-alice")
	if err != nil || len(got.Groups) != 100 || len(got.Memberships) != 100 {
		t.Fatalf("a user in 100 groups: %d groups, %d memberships, %v", len(got.Groups), len(got.Memberships), err)
	}
	if n := open(u.Groups, time.Time{}); n != 100 {
		t.Fatalf("%d intervals open, want 100", n)
	}
	// Swapping them for 100 others: 100 revokes and 100 grants.
	v := u
	v.Groups = groups("h", 100)
	if o := put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.FieldGroups, At: at(2), Source: idmirror.SourceEvent}); o != idmirror.Changed {
		t.Fatalf("swapping 100 groups: %v", o)
	}
	if n, m := open(u.Groups, time.Time{}), open(v.Groups, time.Time{}); n != 0 || m != 100 {
		t.Fatalf("after the swap: %d old intervals open (want 0), %d new (want 100)", n, m)
	}
	if n, m := open(u.Groups, at(1)), open(v.Groups, at(1)); n != 100 || m != 0 {
		t.Fatalf("as of +1: %d old intervals (want 100), %d new (want 0)", n, m)
	}
	// A tombstone closes all 100.
	put(t, s, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "sub-alice"}, Delete: true, At: at(3), Source: idmirror.SourceSync})
	if n := open(v.Groups, time.Time{}); n != 0 {
		t.Fatalf("%d intervals open after the tombstone", n)
	}
	if got, _ := s.GetUser(ctx, "p", "sub-alice"); len(got.Memberships) != 0 || len(got.Groups) != 100 {
		t.Fatalf("tombstone: %d memberships (want 0), %d groups kept (want 100)", len(got.Memberships), len(got.Groups))
	}
	mustHistory(t, s, "p", "sub-alice", 3)

	// A late observation patches every later history item in the same
	// transaction, with the journal item. bob: one item at +40, 97 at +100..+196.
	bob := idmirror.User{PoolID: "p", Sub: "sub-bob", Username: "bob", Status: "CONFIRMED", Enabled: true,
		Attributes: map[string]string{"email": "bob@example.com"}}
	put(t, s, idmirror.UserWrite{User: bob, Fields: idmirror.AllFields, At: at(40), Source: idmirror.SourceSync})
	for i := range 97 {
		bob.Attributes = map[string]string{"email": "bob@example.com", "custom:seq": fmt.Sprint(i)}
		put(t, s, idmirror.UserWrite{User: bob, Fields: idmirror.FieldAttributes, At: at(100 + i), Source: idmirror.SourceEvent})
	}
	// Late status and groups at +50: state + its item + 97 patched + the
	// journal item = 100 items, taken (the grant is written after the
	// transaction).
	late := bob
	late.Status, late.Groups = "RESET_REQUIRED", []string{"admins"}
	if o := put(t, s, idmirror.UserWrite{User: late, Fields: idmirror.FieldStatus | idmirror.FieldGroups, At: at(50), Source: idmirror.SourceSync}); o != idmirror.Changed {
		t.Fatalf("late write of 100 items: %v", o)
	}
	mustHistory(t, s, "p", "sub-bob", 99)
	if got, err := s.UserAsOf(ctx, "p", "sub-bob", at(196)); err != nil || got.Status != "RESET_REQUIRED" || fmt.Sprint(got.Groups) != "[admins]" {
		t.Fatalf("the late observation did not reach the last item: %q %v, %v", got.Status, got.Groups, err)
	}
	if m, err := s.Members(ctx, "p", "admins", at(50)); err != nil || len(m) != 1 || m[0].Sub != "sub-bob" {
		t.Fatalf("the late grant: %+v, %v", m, err)
	}
	// Late MFA at +45: state + its item + 98 patched + the journal item =
	// 101 items, refused.
	late.MFA = idmirror.MFA{SMSEnabled: true, Preferred: "SMS_MFA"}
	before := changeCount(t, s, "p", at(0), at(300))
	if o, err := s.PutUser(ctx, idmirror.UserWrite{User: late, Fields: idmirror.FieldMFA, At: at(45), Source: idmirror.SourceSync}); err == nil {
		t.Fatalf("a late write of 101 items: %v, want an error", o)
	} else {
		t.Logf("101 items: %v", err)
	}
	mustHistory(t, s, "p", "sub-bob", 99)
	got, _ = s.GetUser(ctx, "p", "sub-bob")
	if got.Version != 99 || got.MFA.SMSEnabled || !got.Clocks["mfa"].Equal(at(40)) {
		t.Fatalf("after a refused late write: version %d, mfa %+v, clocks %v", got.Version, got.MFA, got.Clocks)
	}
	for _, m := range []int{45, 196} {
		if got, _ := s.UserAsOf(ctx, "p", "sub-bob", at(m)); got.MFA.SMSEnabled {
			t.Fatalf("a refused late write reached the item as of +%d", m)
		}
	}
	if after := changeCount(t, s, "p", at(0), at(300)); after != before {
		t.Fatalf("a refused write recorded %d changes", after-before)
	}
}

// What a store returns is the caller's, and what a caller passes is copied:
// changing either later changes nothing stored.
func returnedValuesAreCopies(t *testing.T, s Store) {
	ctx := context.Background()
	u := alice("p")
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	u.Attributes["email"], u.Groups[0] = "mutated@example.com", "mutated"

	check := func(when string) {
		t.Helper()
		got, err := s.GetUser(ctx, "p", "sub-alice")
		if err != nil || got.Email() != "Alice@Example.com" || fmt.Sprint(got.Groups) != "[admins]" ||
			!got.Memberships["admins"].Equal(at(1)) || !got.Clocks["groups"].Equal(at(1)) {
			t.Fatalf("%s: GetUser = %+v, %v", when, got, err)
		}
		h := mustHistory(t, s, "p", "sub-alice", 1)
		if h[0].State.Email() != "Alice@Example.com" || fmt.Sprint(h[0].State.Groups) != "[admins]" || h[0].Fields["email"].After != "Alice@Example.com" {
			t.Fatalf("%s: history = %+v", when, h[0])
		}
	}
	check("after the caller changed its input")

	got, _ := s.GetUser(ctx, "p", "sub-alice")
	got.Attributes["email"], got.Groups[0] = "x@example.com", "x"
	got.Memberships["admins"], got.Clocks["groups"] = at(9), at(9)
	h, _ := s.UserHistory(ctx, "p", "sub-alice")
	h[0].State.Attributes["email"], h[0].State.Groups[0] = "x@example.com", "x"
	h[0].Fields["email"] = idmirror.FieldChange{After: "x"}
	then, _ := s.UserAsOf(ctx, "p", "sub-alice", at(1))
	then.Attributes["email"], then.Groups[0] = "x@example.com", "x"
	found, _ := s.FindByEmail(ctx, "p", "alice@example.com")
	found[0].Attributes["email"], found[0].Groups[0] = "x@example.com", "x"
	check("after the caller changed what it read")

	prec := int32(1)
	g := idmirror.Group{PoolID: "p", Name: "admins", Precedence: &prec}
	if _, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at(1), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	prec = 7
	gr, _ := s.GetGroup(ctx, "p", "admins")
	if gr.Precedence == nil || *gr.Precedence != 1 {
		t.Fatalf("group precedence follows the caller's variable: %v", gr.Precedence)
	}
	*gr.Precedence = 9
	if gr, _ := s.GetGroup(ctx, "p", "admins"); *gr.Precedence != 1 {
		t.Fatalf("group precedence changed through a read: %d", *gr.Precedence)
	}

	rm := idmirror.DefaultRoleMap()
	if _, err := s.PutRoleMap(ctx, "p", rm, at(1), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	rm.Roles[0].Groups[0] = "x"
	read, _ := s.RoleMapAsOf(ctx, "p", time.Time{})
	if read.Roles[0].Groups[0] != "admins" {
		t.Fatalf("role map follows the caller's value: %+v", read)
	}
	read.Roles[0].Groups[0] = "y"
	if again, _ := s.RoleMapAsOf(ctx, "p", time.Time{}); again.Roles[0].Groups[0] != "admins" {
		t.Fatalf("role map changed through a read: %+v", again)
	}

	cfg := idmirror.PoolConfig{PoolID: "p", UsernameAttributes: []string{"email"}, Schema: []idmirror.SchemaAttribute{{Name: "email"}}}
	if _, err := s.PutPoolConfig(ctx, cfg, at(1), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	cfg.UsernameAttributes[0], cfg.Schema[0].Name = "x", "x"
	c, _, _ := s.PoolConfig(ctx, "p")
	if c.UsernameAttributes[0] != "email" || c.Schema[0].Name != "email" {
		t.Fatalf("configuration follows the caller's value: %+v", c)
	}
}
