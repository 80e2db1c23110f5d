package mirrortest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
)

// actorsRecordedAndLateActorAttached: a write's actor is on its history
// item, on the membership it grants and in Changes; a late event explains
// the change the reconcile found first (actor unknown) exactly once, on the
// right item, and never overrides a known actor or invents a change.
func actorsRecordedAndLateActorAttached(t *testing.T, s Store) {
	ctx := context.Background()
	admin := idmirror.Actor{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/ops/alice", SourceIP: "203.0.113.9", EventID: "ev-1"}
	mallory := idmirror.Actor{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/mallory", EventID: "ev-2"}

	u := idmirror.User{PoolID: "p", Sub: "sub-bob", Username: "bob", Enabled: true, Groups: []string{"staff"}}
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(10), Source: idmirror.SourceEvent, Actor: admin})
	// The reconcile finds bob in admins at 30; the call was made at 25.
	u.Groups = []string{"admins", "staff"}
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(30), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()})

	hist, err := s.UserHistory(ctx, "p", "sub-bob")
	if err != nil || len(hist) != 2 {
		t.Fatalf("history = %d items, %v", len(hist), err)
	}
	if hist[0].Actor != admin || hist[1].Actor != idmirror.SyncActor() {
		t.Fatalf("actors = %+v, %+v", hist[0].Actor, hist[1].Actor)
	}
	gotAdmins := func() idmirror.Membership {
		t.Helper()
		ms, err := s.Members(ctx, "p", "admins", time.Time{})
		if err != nil || len(ms) != 1 {
			t.Fatalf("admins members = %v, %v", ms, err)
		}
		return ms[0]
	}
	if m := gotAdmins(); m.GrantedActor != idmirror.SyncActor() {
		t.Fatalf("grant actor = %+v", m.GrantedActor)
	}
	staff, _ := s.Members(ctx, "p", "staff", time.Time{})
	if len(staff) != 1 || staff[0].GrantedActor != admin {
		t.Fatalf("staff grant = %+v", staff)
	}

	gained := func(g string) func(idmirror.FieldChange) bool {
		return func(fc idmirror.FieldChange) bool {
			return has(fc.After, g) && !has(fc.Before, g)
		}
	}
	var until, settled time.Time
	explain := func(since time.Time, field string, m func(idmirror.FieldChange) bool, group string, a idmirror.Actor) bool {
		t.Helper()
		ok, err := s.ExplainChange(ctx, idmirror.Explanation{Kind: "user", PoolID: "p", Key: "sub-bob", Since: since, Until: until, Settled: settled,
			Field: field, Matches: m, Group: group, Actor: a})
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		return ok
	}
	// An event about a change that was never recorded explains nothing.
	if explain(at(25), "enabled", nil, "", mallory) {
		t.Error("an event explained a change that never happened")
	}
	// An event after the change cannot have caused it.
	if explain(at(31), "groups", gained("admins"), "admins", mallory) {
		t.Error("an event after the change explained it")
	}
	// Redriven too late: the change was observed after the event's bound.
	until = at(29)
	if explain(at(25), "groups", gained("admins"), "admins", mallory) {
		t.Error("an event explained a change observed after its Until")
	}
	until = time.Time{}
	// A different change of the field observed after the call (settled)
	// ends the search: the grant at 10 is not this removal's.
	settled = at(5)
	if explain(at(5), "groups", gained("admins"), "admins", mallory) {
		t.Error("an event explained past a different change observed after it")
	}
	// Before the call has surely happened (skew, whole seconds), such an
	// item is passed over.
	settled = at(15)
	if !explain(at(5), "groups", gained("admins"), "admins", mallory) {
		t.Fatal("the late event did not explain the reconcile's change")
	}
	// Twice: the item's actor is known now.
	if explain(at(25), "groups", gained("admins"), "admins", admin) {
		t.Error("a second event overrode a known actor")
	}
	// An attached actor says it was inferred (see idmirror.Actor.Inferred).
	inferred := mallory
	inferred.Inferred = true
	hist, _ = s.UserHistory(ctx, "p", "sub-bob")
	if len(hist) != 2 || hist[1].Actor != inferred || hist[0].Actor != admin {
		t.Fatalf("after explaining: %d items, actors %+v / %+v", len(hist), hist[0].Actor, hist[len(hist)-1].Actor)
	}
	if hist[1].Fields["groups"].After != "admins,staff" || hist[1].Version != 2 {
		t.Errorf("the explained item changed otherwise: %+v", hist[1].Change)
	}
	if m := gotAdmins(); m.GrantedActor != inferred {
		t.Errorf("grant actor after explaining = %+v", m.GrantedActor)
	}
	var seen []idmirror.Actor
	if err := s.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: at(0), To: at(60)}, func(c idmirror.Change) error {
		seen = append(seen, c.Actor)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != admin || seen[1] != inferred {
		t.Errorf("Changes actors = %+v", seen)
	}

	// Groups: an UpdateGroup found by the reconcile, explained later.
	g := idmirror.Group{PoolID: "p", Name: "admins", Description: "a"}
	if _, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at(10), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()}); err != nil {
		t.Fatal(err)
	}
	g.RoleArn = "arn:aws:iam::111122223333:role/x"
	if _, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at(40), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	ok, err := s.ExplainChange(ctx, idmirror.Explanation{Kind: "group", PoolID: "p", Key: "admins", Since: at(35), Field: "role_arn", Actor: mallory})
	if err != nil || !ok {
		t.Fatalf("group explain = %v, %v", ok, err)
	}
	gh, _ := s.GroupHistory(ctx, "p", "admins")
	if len(gh) != 2 || gh[0].Actor != idmirror.SyncActor() || gh[1].Actor != inferred {
		t.Errorf("group history actors = %+v", gh)
	}
	if _, err := s.ExplainChange(ctx, idmirror.Explanation{Kind: "nope", PoolID: "p", Key: "k", Field: "f", Actor: mallory}); err == nil {
		t.Error("explain of an unknown kind: no error")
	}
}

func has(list, v string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == v {
			return true
		}
	}
	return false
}

// observerSeesEveryCommittedChange: the observer learns of each write that
// changed something once, with the state after it and the memberships it
// opened — also of a late first observation that adds no history item but
// grants a membership — and of nothing that changed nothing.
func observerSeesEveryCommittedChange(t *testing.T, s Store) {
	ctx := context.Background()
	type seen struct {
		kind, key string
		fields    []string
		after     map[string]string
		grants    []string
		history   bool
	}
	var mu sync.Mutex
	var got []seen
	s.Observe(func(a idmirror.Applied) {
		mu.Lock()
		defer mu.Unlock()
		v := seen{kind: a.Kind, key: a.Key, after: a.After, history: a.Change != nil}
		if a.Change != nil {
			for k := range a.Change.Fields {
				v.fields = append(v.fields, k)
			}
			sort.Strings(v.fields)
		}
		for _, g := range a.Grants {
			v.grants = append(v.grants, g.Group+"@"+g.GrantedActor.Type)
		}
		got = append(got, v)
	})
	defer s.Observe(nil)
	u := idmirror.User{PoolID: "p", Sub: "s1", Username: "u1", Enabled: true, Groups: []string{"operators"}}
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(10), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()})
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(11), Source: idmirror.SourceSync}) // nothing changed
	u.Enabled = false
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldEnabled, At: at(12), Source: idmirror.SourceEvent})
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldEnabled, At: at(9), Source: idmirror.SourceEvent}) // stale
	g := idmirror.Group{PoolID: "p", Name: "admins"}
	for _, w := range []idmirror.GroupWrite{{Group: g, At: at(10), Source: idmirror.SourceSync}, {Group: g, At: at(11), Source: idmirror.SourceSync}, {Group: g, Delete: true, At: at(12), Source: idmirror.SourceEvent}} {
		if _, err := s.PutGroup(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	// The reconcile's two writes of a user it finds: the listing at 20, its
	// groups read earlier, at 15 — a late first observation of the groups.
	v := idmirror.User{PoolID: "p", Sub: "s2", Username: "u2", Enabled: true}
	put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.AllFields &^ idmirror.FieldGroups, At: at(20), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()})
	v.Groups = []string{"admins"}
	put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.FieldGroups, At: at(15), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 6 {
		t.Fatalf("observed %d writes, want 6: %+v", len(got), got)
	}
	if got[0].kind != "user" || got[0].after["groups"] != "operators" || got[0].after["enabled"] != "true" || fmt.Sprint(got[0].grants) != "[operators@"+idmirror.ActorSync+"]" {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].kind != "user" || fmt.Sprint(got[1].fields) != "[enabled]" || got[1].after["enabled"] != "false" || got[1].after["groups"] != "operators" || len(got[1].grants) != 0 {
		t.Errorf("disable: %+v", got[1])
	}
	if got[2].kind != "group" || got[2].key != "admins" || got[3].after["deleted"] != "true" {
		t.Errorf("groups: %+v / %+v", got[2], got[3])
	}
	if got[4].key != "s2" || len(got[4].grants) != 0 {
		t.Errorf("s2 listed: %+v", got[4])
	}
	if got[5].key != "s2" || fmt.Sprint(got[5].grants) != "[admins@"+idmirror.ActorSync+"]" || got[5].after["groups"] != "admins" {
		t.Errorf("s2's late groups (no history item of their own) must still report the grant: %+v", got[5])
	}
}
