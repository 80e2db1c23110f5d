package idmirror_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
)

var m0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

func mins(n int) time.Time { return m0.Add(time.Duration(n) * time.Minute) }

func bob() idmirror.User {
	return idmirror.User{PoolID: "p", Sub: "s-bob", Username: "bob", Attributes: map[string]string{"email": "bob@x"},
		Status: "CONFIRMED", Enabled: true, Groups: []string{"operators"}}
}

// apply merges w into cur the way a store does, with a history it keeps itself.
type fakeStore struct {
	cur  *idmirror.UserRecord
	hist []idmirror.Entry[idmirror.User]
}

func (f *fakeStore) put(t *testing.T, w idmirror.UserWrite) idmirror.UserMerge {
	t.Helper()
	m, err := idmirror.MergeUser(f.cur, w, func(at time.Time) (idmirror.User, bool, error) {
		var last *idmirror.Entry[idmirror.User]
		for i := range f.hist {
			if !f.hist[i].At.After(at) {
				last = &f.hist[i]
			}
		}
		if last == nil {
			return idmirror.User{}, false, nil
		}
		return last.State, true, nil
	})
	if err != nil {
		t.Fatalf("MergeUser: %v", err)
	}
	if m.Outcome == idmirror.Stale {
		return m
	}
	next := m.Next
	f.cur = &next
	first := true
	for i := range f.hist {
		if m.Patch != 0 && f.hist[i].At.After(m.At) {
			idmirror.Take(&f.hist[i].State, next.User, m.Patch)
			if m.Recount && first {
				f.hist[i].Fields = idmirror.FirstChanges(f.hist[i].State)
			}
			first = false
		}
	}
	if m.History != nil {
		f.hist = append(f.hist, *m.History)
	}
	return m
}

func TestMergeUserLateGroupsOfANewUser(t *testing.T) {
	var f fakeStore
	u := bob()
	f.put(t, idmirror.UserWrite{User: u, Fields: idmirror.AllFields &^ idmirror.FieldGroups, At: mins(2), Source: idmirror.SourceSync})
	m := f.put(t, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: mins(1), Source: idmirror.SourceSync})
	if m.Outcome != idmirror.Changed || m.History != nil || !m.Recount || m.Patch != idmirror.FieldGroups {
		t.Fatalf("late groups of a user with no history then: outcome %v, history %v, recount %v, patch %v", m.Outcome, m.History, m.Recount, m.Patch)
	}
	if len(m.Grants) != 1 || !m.Grants[0].GrantedAt.Equal(mins(1)) {
		t.Fatalf("grant %+v: the membership was observed at 1", m.Grants)
	}
	if len(f.hist) != 1 || f.hist[0].Fields["groups"] != (idmirror.FieldChange{After: "operators"}) {
		t.Fatalf("the first item tells the groups: %+v", f.hist)
	}
}

func TestMergeUserFirstWriteGrantsMemberships(t *testing.T) {
	var f fakeStore
	m := f.put(t, idmirror.UserWrite{User: bob(), Fields: idmirror.AllFields, At: mins(1), Source: idmirror.SourceSync})
	if m.Outcome != idmirror.Changed || m.Next.Version != 1 || !m.Next.ObservedAt.Equal(mins(1)) {
		t.Fatalf("first write: %+v", m)
	}
	if len(m.Grants) != 1 || m.Grants[0].Group != "operators" || !m.Grants[0].GrantedAt.Equal(mins(1)) || len(m.Revokes) != 0 {
		t.Fatalf("grants %+v revokes %+v", m.Grants, m.Revokes)
	}
	if m.History == nil || m.History.Fields["groups"] != (idmirror.FieldChange{After: "operators"}) {
		t.Fatalf("history %+v", m.History)
	}
}

func TestMergeUserFieldClocks(t *testing.T) {
	var f fakeStore
	f.put(t, idmirror.UserWrite{User: bob(), Fields: idmirror.AllFields, At: mins(5), Source: idmirror.SourceSync})
	for _, c := range []struct {
		name    string
		w       func() idmirror.UserWrite
		outcome idmirror.Outcome
		check   func(idmirror.UserRecord) bool
	}{
		{"older observation of the same group is stale", func() idmirror.UserWrite {
			u := bob()
			u.Enabled = false
			return idmirror.UserWrite{User: u, Fields: idmirror.FieldEnabled, At: mins(4), Source: idmirror.SourceEvent}
		}, idmirror.Stale, func(r idmirror.UserRecord) bool { return r.Enabled }},
		{"an equal instant is stale too (replay)", func() idmirror.UserWrite {
			return idmirror.UserWrite{User: bob(), Fields: idmirror.AllFields, At: mins(5), Source: idmirror.SourceSync}
		}, idmirror.Stale, func(r idmirror.UserRecord) bool { return r.Version == 1 }},
		{"newer observation that changes nothing moves the clock only", func() idmirror.UserWrite {
			return idmirror.UserWrite{User: bob(), Fields: idmirror.FieldStatus, At: mins(6), Source: idmirror.SourceSync}
		}, idmirror.Unchanged, func(r idmirror.UserRecord) bool {
			return r.Version == 2 && r.Clocks["status"].Equal(mins(6)) && r.Clocks["groups"].Equal(mins(5)) && r.ChangedAt.Equal(mins(5))
		}},
		{"newer groups revoke the old membership", func() idmirror.UserWrite {
			u := bob()
			u.Groups = []string{"admins"}
			return idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: mins(7), Source: idmirror.SourceSync}
		}, idmirror.Changed, func(r idmirror.UserRecord) bool {
			_, op := r.Memberships["operators"]
			return !op && r.Memberships["admins"].Equal(mins(7))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := f.put(t, c.w())
			if m.Outcome != c.outcome {
				t.Fatalf("outcome %v, want %v", m.Outcome, c.outcome)
			}
			if !c.check(*f.cur) {
				t.Fatalf("state after: %+v", *f.cur)
			}
		})
	}
}

func TestMergeUserLateObservation(t *testing.T) {
	var f fakeStore
	f.put(t, idmirror.UserWrite{User: bob(), Fields: idmirror.AllFields, At: mins(1), Source: idmirror.SourceTrigger})
	u := bob()
	u.Groups = []string{"admins"}
	f.put(t, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: mins(3), Source: idmirror.SourceSync})
	// Observed at 2, delivered after the change observed at 3.
	late := bob()
	late.Attributes = map[string]string{"email": "bob@new"}
	m := f.put(t, idmirror.UserWrite{User: late, Fields: idmirror.FieldAttributes, At: mins(2), Source: idmirror.SourceEvent})
	if m.Outcome != idmirror.Changed || m.Patch != idmirror.FieldAttributes {
		t.Fatalf("late write: outcome %v patch %v", m.Outcome, m.Patch)
	}
	// Its history item is the state at 2: the groups as of 1, the new email.
	if got := m.History.State; got.Email() != "bob@new" || !reflect.DeepEqual(got.Groups, []string{"operators"}) {
		t.Fatalf("late history state %+v", got)
	}
	if m.History.Fields["email"] != (idmirror.FieldChange{Before: "bob@x", After: "bob@new"}) || len(m.History.Fields) != 1 {
		t.Fatalf("late history changes %+v", m.History.Fields)
	}
	// The later item (at 3) now carries the email seen at 2.
	for _, h := range f.hist {
		if h.At.Equal(mins(3)) && h.State.Email() != "bob@new" {
			t.Fatalf("history at 3 was not patched: %+v", h.State)
		}
	}
	// A membership change is not repeated by a late attribute write.
	if len(m.Grants)+len(m.Revokes) != 0 {
		t.Fatalf("late attribute write touched memberships: %+v %+v", m.Grants, m.Revokes)
	}
}

func TestMergeUserTombstone(t *testing.T) {
	gone := idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "s-bob"}, Delete: true, At: mins(9), Source: idmirror.SourceSync}
	if _, err := idmirror.MergeUser(nil, gone, nil); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("tombstone of a user never seen: %v, want ErrNotFound", err)
	}
	var f fakeStore
	f.put(t, idmirror.UserWrite{User: bob(), Fields: idmirror.AllFields, At: mins(1), Source: idmirror.SourceSync})
	m := f.put(t, gone)
	if !m.Next.Deleted || m.Next.Username != "bob" || m.Next.Email() != "bob@x" {
		t.Fatalf("a tombstone keeps the last state: %+v", m.Next.User)
	}
	if len(m.Revokes) != 1 || m.Revokes[0].Group != "operators" || len(m.Next.Memberships) != 0 {
		t.Fatalf("a tombstone is in no group: revokes %+v, open %v", m.Revokes, m.Next.Memberships)
	}
}

func TestMergeUserRejectsBadWrites(t *testing.T) {
	for name, w := range map[string]idmirror.UserWrite{
		"no pool":   {User: idmirror.User{Sub: "s"}, Fields: idmirror.AllFields, At: mins(1), Source: idmirror.SourceSync},
		"no sub":    {User: idmirror.User{PoolID: "p"}, Fields: idmirror.AllFields, At: mins(1), Source: idmirror.SourceSync},
		"no source": {User: bob(), Fields: idmirror.AllFields, At: mins(1)},
		"no time":   {User: bob(), Fields: idmirror.AllFields, Source: idmirror.SourceSync},
		"no fields": {User: bob(), At: mins(1), Source: idmirror.SourceSync},
	} {
		if _, err := idmirror.MergeUser(nil, w, nil); !errors.Is(err, idmirror.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestMergeWhole(t *testing.T) {
	g := idmirror.Group{PoolID: "p", Name: "admins", Description: "a"}
	w, err := idmirror.GroupWrite{Group: g, At: mins(2), Source: idmirror.SourceSync}.Whole()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idmirror.MergeWhole(nil, w)
	if err != nil || m.Outcome != idmirror.Changed || m.Next.Version != 1 {
		t.Fatalf("first: %+v %v", m, err)
	}
	older := w
	older.At = mins(1)
	if m2, _ := idmirror.MergeWhole(&m.Next, older); m2.Outcome != idmirror.Stale {
		t.Fatalf("older: %v", m2.Outcome)
	}
	del, _ := idmirror.GroupWrite{Group: g, Delete: true, At: mins(3), Source: idmirror.SourceEvent}.Whole()
	m3, err := idmirror.MergeWhole(&m.Next, del)
	if err != nil || m3.Outcome != idmirror.Changed || !m3.Next.Deleted || m3.History.Fields["deleted"].After != "true" {
		t.Fatalf("tombstone: %+v %v", m3, err)
	}
	if _, err := idmirror.MergeWhole(nil, del); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("tombstone of a group never seen: %v", err)
	}
}

func TestMergeUserRefusesATombstoneOlderThanWhatItOverrides(t *testing.T) {
	var f fakeStore
	f.put(t, idmirror.UserWrite{User: bob(), Fields: idmirror.FieldAttributes, At: mins(5), Source: idmirror.SourceTrigger})
	for _, at := range []time.Time{mins(4), mins(5)} {
		m := f.put(t, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "s-bob"}, Delete: true, At: at, Source: idmirror.SourceSync})
		if m.Outcome != idmirror.Stale || f.cur.Deleted {
			t.Fatalf("tombstone at %v over an observation at %v: %v (deleted %v), want stale", at, mins(5), m.Outcome, f.cur.Deleted)
		}
	}
	if m := f.put(t, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "s-bob"}, Delete: true, At: mins(6), Source: idmirror.SourceSync}); m.Outcome != idmirror.Changed || !f.cur.Deleted {
		t.Fatalf("a newer tombstone: %v", m.Outcome)
	}
}

// Review finding: the trigger does not see whether a user is enabled; its
// first item must not record "enabled: false", nor the next observation a
// change "false -> true" that never happened.
func TestMergeUserRecordsNoUnobservedEnabled(t *testing.T) {
	var f fakeStore
	u := bob()
	m := f.put(t, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes | idmirror.FieldStatus | idmirror.FieldExists, At: mins(1), Source: idmirror.SourceTrigger})
	if _, ok := m.History.Fields["enabled"]; ok {
		t.Fatalf("first item records enabled it never saw: %v", m.History.Fields)
	}
	m = f.put(t, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: mins(2), Source: idmirror.SourceEvent})
	if c := m.History.Fields["enabled"]; c != (idmirror.FieldChange{After: "true"}) {
		t.Fatalf("first observation of enabled: %+v, want \"\" -> true", c)
	}
}

// A late observation of enabled, for a user no one had observed enabled of
// (the trigger saw the sign-up; the reconcile's read came later), records
// the flag as first seen — not as changed from an invented "false" (which
// would also raise a privileged_enabled security event).
func TestLateFirstObservationOfEnabledInventsNoBefore(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	u := idmirror.User{PoolID: "p", Sub: "s", Username: "ann", Status: "CONFIRMED", Attributes: map[string]string{"email": "a@x"}}
	first, err := idmirror.MergeUser(nil, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes | idmirror.FieldStatus | idmirror.FieldExists, At: t0, Source: idmirror.SourceTrigger}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur := first.Next
	// A later observation of the attributes only, so the next write is late.
	u2 := u
	u2.Attributes = map[string]string{"email": "b@x"}
	second, err := idmirror.MergeUser(&cur, idmirror.UserWrite{User: u2, Fields: idmirror.FieldAttributes, At: t0.Add(2 * time.Minute), Source: idmirror.SourceSync}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur = second.Next
	late := u
	late.Enabled, late.Groups = true, []string{"admins"}
	m, err := idmirror.MergeUser(&cur, idmirror.UserWrite{User: late, Fields: idmirror.FieldEnabled | idmirror.FieldGroups, At: t0.Add(time.Minute), Source: idmirror.SourceEvent},
		func(time.Time) (idmirror.User, bool, error) { return first.History.State, true, nil })
	if err != nil || m.History == nil {
		t.Fatalf("late merge: %+v %v", m, err)
	}
	if fc := m.History.Fields["enabled"]; fc.Before != "" || fc.After != "true" {
		t.Errorf("enabled in the late item = %+v, want first seen (before \"\")", fc)
	}
}
