package model_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/cognito/mempool"
	"github.com/idmirror/idmirror/mirror/memmirror"
	"github.com/idmirror/idmirror/restore"
	idsync "github.com/idmirror/idmirror/sync"
	"github.com/idmirror/idmirror/triggers"
)

// The invariants, checked after the steps that can break them:
//  1. after a reconcile that observes the pool after every writer's clock
//     has passed the last change, the mirror's current state equals the pool;
//  2. for every observation the mirror recorded (instant T, field group F),
//     as-of T shows F as observed, and no as-of answer shows a state that was
//     never observed (history never invents or loses a state);
//  3. no identity is ever hard-deleted; a tombstone never overrides an
//     observation made at or after its own instant;
//  4. restore of the mirror as of T into an empty pool equals what the mirror
//     shows as of T (subs aside), also after a run killed half-way and run
//     again, and re-running changes nothing;
//  5. restore never writes to an account it did not create (strangers who
//     hold some of the names in the target are left exactly as they were);
//  6. an actor is attached only to a change its call made: a late CloudTrail
//     event explains a reconcile's item only for its own user, within the
//     skew allowance, when the item made the call's change.
func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := newWorld(t)
		t.Repeat(map[string]func(*rapid.T){
			"signUp":      w.signUp,
			"register":    w.register,
			"confirm":     w.confirm,
			"adminCreate": w.adminCreate,
			"delete":      w.delete,
			"setAttr":     w.setAttr,
			"addGroup":    w.addGroup,
			"removeGroup": w.removeGroup,
			"setEnabled":  w.setEnabled,
			"deliver":     w.deliver,
			"reconcile":   w.reconcile,
			"settle":      w.settleAndReconcile,
			"restore":     w.restore,
			"":            w.checkHistory,
		})
	})
}

var groupNames = []string{"admins", "operators", "staff"}

const maxSkew = 300 * time.Millisecond

// clock is the true time of the model; each writer reads it with its own skew.
type clock struct {
	mu  gosync.Mutex
	now time.Time
}

func (c *clock) get() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *clock) skewed(d time.Duration) func() time.Time {
	return func() time.Time { return c.get().Add(d) }
}

type world struct {
	ctx     context.Context
	clock   *clock
	cognito *mempool.Service
	pool    string
	store   *recorder
	trigger *triggers.PostConfirmation
	events  *idsync.Refresher
	sync    *idsync.Reconciler
	skew    map[string]time.Duration
	pending []pendingEvent
	seq     int             // CloudTrail event ids
	calls   map[string]call // every event made, by event id (invariant 6)
}

// call is what an event's API call did, for invariant 6.
type call struct {
	name, sub, group string
	at               time.Time
}

type pendingEvent struct {
	name string
	raw  []byte
}

func newWorld(t *rapid.T) *world {
	w := &world{ctx: context.Background(), clock: &clock{now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}, skew: map[string]time.Duration{}, calls: map[string]call{}}
	for _, writer := range []string{"trigger", "event", "sync", "restore"} {
		w.skew[writer] = time.Duration(rapid.Int64Range(-int64(maxSkew), int64(maxSkew)).Draw(t, "skew-"+writer))
	}
	w.cognito = mempool.New(mempool.Options{Now: w.clock.skewed(w.skew["sync"]), PageSize: 2})
	w.pool = w.cognito.CreatePool(poolOptions("source"))
	for _, g := range groupNames {
		if err := w.cognito.CreateGroup(w.ctx, idmirror.Group{PoolID: w.pool, Name: g, Description: g}); err != nil {
			t.Fatalf("create group %s: %v", g, err)
		}
	}
	w.store = &recorder{Store: memmirror.New(), obs: map[string][]obs{}}
	w.trigger = triggers.NewPostConfirmation(w.store, nil, triggers.PostConfirmationOptions{Now: w.clock.skewed(w.skew["trigger"]), Metrics: discard{}})
	w.events = idsync.NewRefresher(w.cognito, w.store, nil, w.pool, nil)
	w.events.SetClock(w.clock.skewed(w.skew["event"]))
	w.sync = idsync.NewReconciler(w.cognito, w.store, nil, nil, idsync.Options{Repair: true, AllowMassTombstones: true, Concurrency: 4})
	w.sync.SetClock(w.clock.skewed(w.skew["sync"]))
	return w
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func poolOptions(name string) mempool.PoolOptions {
	return mempool.PoolOptions{Name: name, CaseSensitive: true, Schema: []idmirror.SchemaAttribute{
		{Name: "email", DataType: "String", Mutable: true},
		{Name: "custom:tenant", DataType: "String", Mutable: true},
	}}
}

// tick lets some time pass before each step.
func (w *world) tick(t *rapid.T) {
	w.clock.advance(time.Duration(rapid.Int64Range(0, int64(2*maxSkew)).Draw(t, "tick")))
}

func (w *world) users() []idmirror.User {
	users, _ := w.cognito.Snapshot(w.pool)
	return users
}

// someUser draws a user of the pool (skips the step if there is none).
func (w *world) someUser(t *rapid.T) idmirror.User {
	users := w.users()
	if len(users) == 0 {
		t.Skip("no user")
	}
	return rapid.SampledFrom(users).Draw(t, "user")
}

func (w *world) newName(t *rapid.T) string {
	// A small namespace: names come back after a deletion, with a new sub.
	return fmt.Sprintf("u%d", rapid.IntRange(0, 6).Draw(t, "name"))
}

func (w *world) signUp(t *rapid.T) {
	w.tick(t)
	name := w.newName(t)
	attrs := map[string]string{"email": name + "@example.com", "custom:tenant": rapid.SampledFrom([]string{"t1", "t2"}).Draw(t, "tenant")}
	if err := w.cognito.SignUp(w.ctx, w.pool, name, attrs); err != nil {
		if errors.Is(err, idmirror.ErrExists) {
			t.Skip("taken")
		}
		t.Fatalf("sign up %s: %v", name, err)
	}
	if err := w.cognito.ConfirmSignUp(w.ctx, w.pool, name); err != nil {
		t.Fatalf("confirm %s: %v", name, err)
	}
	u, err := w.cognito.GetUser(w.ctx, w.pool, name)
	if err != nil {
		t.Fatal(err)
	}
	w.invokeTrigger(t, u)
}

// register signs a user up without confirming: UNCONFIRMED, seen by no
// trigger yet (an admin may add it to groups before it confirms).
func (w *world) register(t *rapid.T) {
	w.tick(t)
	name := w.newName(t)
	if err := w.cognito.SignUp(w.ctx, w.pool, name, map[string]string{"email": name + "@example.com"}); err != nil {
		if errors.Is(err, idmirror.ErrExists) {
			t.Skip("taken")
		}
		t.Fatalf("sign up %s: %v", name, err)
	}
}

// confirm confirms a pending sign-up; Cognito calls the trigger.
func (w *world) confirm(t *rapid.T) {
	w.tick(t)
	var pending []idmirror.User
	for _, u := range w.users() {
		if u.Status == "UNCONFIRMED" {
			pending = append(pending, u)
		}
	}
	if len(pending) == 0 {
		t.Skip("nobody to confirm")
	}
	u := rapid.SampledFrom(pending).Draw(t, "user")
	if err := w.cognito.ConfirmSignUp(w.ctx, w.pool, u.Username); err != nil {
		t.Fatalf("confirm %s: %v", u.Username, err)
	}
	u, err := w.cognito.GetUser(w.ctx, w.pool, u.Username)
	if err != nil {
		t.Fatal(err)
	}
	w.invokeTrigger(t, u)
}

// invokeTrigger sends the post-confirmation event Cognito would send.
func (w *world) invokeTrigger(t *rapid.T, u idmirror.User) {
	attrs := maps.Clone(u.Attributes)
	attrs["sub"] = u.Sub
	attrs["cognito:user_status"] = u.Status
	raw, _ := json.Marshal(map[string]any{"version": "1", "triggerSource": "PostConfirmation_ConfirmSignUp", "region": "us-east-1",
		"userPoolId": w.pool, "userName": u.Username, "callerContext": map[string]any{"clientId": "app"},
		"request": map[string]any{"userAttributes": attrs}, "response": map[string]any{}})
	if _, err := w.trigger.Invoke(w.ctx, raw); err != nil {
		t.Fatalf("post-confirmation trigger: %v", err)
	}
}

func (w *world) adminCreate(t *rapid.T) {
	w.tick(t)
	name := w.newName(t)
	u, err := w.cognito.CreateUser(w.ctx, w.pool, name, map[string]string{"email": name + "@example.com"}, cognito.Suppress)
	if errors.Is(err, idmirror.ErrExists) {
		t.Skip("taken")
	}
	if err != nil {
		t.Fatalf("admin create %s: %v", name, err)
	}
	w.event("AdminCreateUser", u.Sub, nil)
}

func (w *world) delete(t *rapid.T) {
	w.tick(t)
	u := w.someUser(t)
	if err := w.cognito.DeleteUser(w.ctx, w.pool, u.Username); err != nil {
		t.Fatalf("delete %s: %v", u.Username, err)
	}
	w.event("AdminDeleteUser", u.Sub, nil)
}

func (w *world) setAttr(t *rapid.T) {
	w.tick(t)
	u := w.someUser(t)
	tenant := rapid.SampledFrom([]string{"t1", "t2", "t3"}).Draw(t, "tenant")
	if err := w.cognito.UpdateAttributes(w.ctx, w.pool, u.Username, map[string]string{"custom:tenant": tenant}); err != nil {
		t.Fatalf("update %s: %v", u.Username, err)
	}
	w.event("AdminUpdateUserAttributes", u.Sub, nil)
}

func (w *world) addGroup(t *rapid.T) {
	w.tick(t)
	u := w.someUser(t)
	g := rapid.SampledFrom(groupNames).Draw(t, "group")
	if err := w.cognito.AddToGroup(w.ctx, w.pool, u.Username, g); err != nil {
		t.Fatalf("add %s to %s: %v", u.Username, g, err)
	}
	w.event("AdminAddUserToGroup", u.Sub, map[string]any{"groupName": g})
}

func (w *world) removeGroup(t *rapid.T) {
	w.tick(t)
	u := w.someUser(t)
	if len(u.Groups) == 0 {
		t.Skip("in no group")
	}
	g := rapid.SampledFrom(u.Groups).Draw(t, "group")
	if err := w.cognito.RemoveFromGroup(w.ctx, w.pool, u.Username, g); err != nil {
		t.Fatalf("remove %s from %s: %v", u.Username, g, err)
	}
	w.event("AdminRemoveUserFromGroup", u.Sub, map[string]any{"groupName": g})
}

func (w *world) setEnabled(t *rapid.T) {
	w.tick(t)
	u := w.someUser(t)
	if err := w.cognito.SetEnabled(w.ctx, w.pool, u.Username, !u.Enabled); err != nil {
		t.Fatalf("enable/disable %s: %v", u.Username, err)
	}
	w.event(map[bool]string{true: "AdminEnableUser", false: "AdminDisableUser"}[!u.Enabled], u.Sub, nil)
}

// event queues the CloudTrail event of an admin call (usernames are hidden;
// the sub comes in additionalEventData).
func (w *world) event(name, sub string, params map[string]any) {
	w.seq++
	req := map[string]any{"userPoolId": w.pool, "username": idsync.Hidden}
	maps.Copy(req, params)
	id := fmt.Sprint(w.seq)
	at := w.clock.get().Truncate(time.Second) // CloudTrail's eventTime has whole seconds
	g, _ := req["groupName"].(string)
	w.calls[id] = call{name: name, sub: sub, group: g, at: at}
	raw, _ := json.Marshal(map[string]any{"detail-type": "AWS API Call via CloudTrail", "source": "aws.cognito-idp",
		"detail": map[string]any{"eventName": name, "eventSource": "cognito-idp.amazonaws.com", "eventID": id,
			"eventTime": at.Format(time.RFC3339), "requestParameters": req, "additionalEventData": map[string]any{"sub": sub},
			"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/caller-" + id}}})
	w.pending = append(w.pending, pendingEvent{name, raw})
}

// deliver hands one pending event to the refresher: in any order, and
// sometimes keeps it to deliver again.
func (w *world) deliver(t *rapid.T) {
	w.tick(t)
	if len(w.pending) == 0 {
		t.Skip("no event")
	}
	i := rapid.IntRange(0, len(w.pending)-1).Draw(t, "event")
	ev := w.pending[i]
	if !rapid.Bool().Draw(t, "again later") {
		w.pending = slices.Delete(w.pending, i, i+1)
	}
	if _, err := w.events.Handle(w.ctx, ev.raw); err != nil {
		t.Fatalf("refresh %s: %v", ev.name, err)
	}
}

func (w *world) reconcile(t *rapid.T) {
	w.tick(t)
	if _, err := w.sync.Run(w.ctx, w.pool); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
}

// settleAndReconcile lets every writer's clock pass the last change, then
// reconciles: invariant 1.
func (w *world) settleAndReconcile(t *rapid.T) {
	w.clock.advance(2*maxSkew + time.Millisecond)
	if _, err := w.sync.Run(w.ctx, w.pool); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	inPool := map[string]idmirror.User{}
	for _, u := range w.users() {
		inPool[u.Sub] = u
		rec, err := w.store.GetUser(w.ctx, w.pool, u.Sub)
		if err != nil {
			t.Fatalf("invariant 1: %s (%s) is in the pool, not in the mirror: %v", u.Username, u.Sub, err)
		}
		if got, want := describe(rec.User), describe(u); got != want || rec.Deleted {
			t.Fatalf("invariant 1: after a reconcile the mirror differs from the pool for %s:\n mirror %s (deleted %v)\n   pool %s", u.Sub, got, rec.Deleted, want)
		}
	}
	err := w.store.ExportUsers(w.ctx, w.pool, idmirror.ExportOptions{Segments: 1}, func(rec idmirror.UserRecord) error {
		if _, ok := inPool[rec.Sub]; !ok && !rec.Deleted {
			return fmt.Errorf("invariant 1: %s (%s) is gone from the pool but live in the mirror", rec.Username, rec.Sub)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// describe is what a reconcile must carry over, field by field.
func describe(u idmirror.User) string {
	return fmt.Sprintf("username=%s status=%s enabled=%v groups=%v attrs=%v", u.Username, u.Status, u.Enabled, idmirror.SortedUnique(u.Groups), sortedAttrs(u.Attributes))
}

func sortedAttrs(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// restore rebuilds the pool as of a recorded instant into a new pool,
// perhaps killed half-way and run again, checks the result against the
// mirror as of that instant, and checks that a second run changes nothing:
// invariant 4.
func (w *world) restore(t *rapid.T) {
	w.tick(t)
	asOf := w.clock.get()
	if at := w.store.instants(); len(at) > 0 && rapid.Bool().Draw(t, "past instant") {
		asOf = rapid.SampledFrom(at).Draw(t, "as of")
	}
	// The runbook's target: self sign-up closed until the restore is done.
	to := poolOptions("target")
	to.AdminCreateOnly = true
	target := w.cognito.CreatePool(to)
	// Strangers who hold some names in the target already (an insider, or
	// sign-up left open for a while): restore must never write to them.
	strangers := map[string]string{}
	for _, i := range rapid.SliceOfNDistinct(rapid.IntRange(0, 6), 0, 2, rapid.ID[int]).Draw(t, "strangers") {
		name := fmt.Sprintf("u%d", i)
		if _, err := w.cognito.CreateUser(w.ctx, target, name, map[string]string{"email": "stranger" + name + "@evil.example"}, cognito.Suppress); err != nil {
			t.Fatalf("stranger %s: %v", name, err)
		}
		u, _ := w.cognito.GetUser(w.ctx, target, name)
		strangers[name] = describe(u)
	}
	r := restore.New(w.store, w.cognito, nil, nil)
	r.SetClock(w.clock.skewed(w.skew["restore"]))
	opt := restore.Options{SourcePool: w.pool, TargetPool: target, AsOf: asOf, PasswordMode: restore.Suppress, Concurrency: 2}
	var mu gosync.Mutex
	if kill := rapid.IntRange(0, 12).Draw(t, "kill after writes"); kill > 0 {
		writes := 0
		lost := rapid.Bool().Draw(t, "lost response")
		w.cognito.SetFault(func(op, pool, username string) mempool.FaultAction {
			if pool != target {
				return mempool.FaultNone
			}
			mu.Lock()
			defer mu.Unlock()
			if writes++; writes < kill {
				return mempool.FaultNone
			}
			if lost {
				return mempool.FaultAfter
			}
			return mempool.FaultBefore
		})
		_, _ = r.Run(w.ctx, opt) // dies: users fail, or a group step stops the run
		w.cognito.SetFault(nil)
	}
	var results []string
	opt.OnUser = func(res restore.UserResult) {
		mu.Lock()
		results = append(results, fmt.Sprintf("%s %s %v %s", res.Username, res.Action, res.Steps, res.Error))
		mu.Unlock()
	}
	rep, err := r.Run(w.ctx, opt)
	if err != nil {
		t.Fatalf("restore as of %s: %v", asOf.Format(time.RFC3339Nano), err)
	}
	sort.Strings(results)
	t.Logf("restore as of %s: %v", asOf.Format(time.RFC3339Nano), results)
	if n := rep.Counts[restore.Failed]; n > 0 {
		t.Fatalf("restore as of %s: %d users failed", asOf.Format(time.RFC3339Nano), n)
	}
	// Memberships of groups the mirror did not hold as of then are skipped,
	// with a warning (restore cannot make a group it has no definition of).
	known := map[string]bool{}
	for _, g := range groupNames {
		if def, err := w.store.GroupAsOf(w.ctx, w.pool, g, asOf); err == nil && !def.Deleted {
			known[g] = true
		}
	}
	// Two live users with one username as of then: the mirror had not yet
	// seen the older one's deletion (usernames are unique in a pool at any
	// instant, so the one Cognito created later holds it).
	// When the creation date of one of them is not mirrored (only the
	// trigger saw it), which holds the name is unknown: neither is restored.
	holder, ambiguous := map[string]idmirror.User{}, map[string]bool{}
	err = w.store.ExportUsers(w.ctx, w.pool, idmirror.ExportOptions{Segments: 1, AsOf: asOf}, func(rec idmirror.UserRecord) error {
		u := rec.User
		if u.Deleted {
			return nil
		}
		if h, ok := holder[u.Username]; ok {
			if h.Created.IsZero() || u.Created.IsZero() {
				ambiguous[u.Username] = true
			}
			if h.Created.After(u.Created) || h.Created.Equal(u.Created) && h.Sub > u.Sub {
				return nil
			}
		}
		holder[u.Username] = u
		return nil
	})
	want := map[string]string{}
	for name, u := range holder {
		if ambiguous[name] {
			continue
		}
		if u.Status == "UNCONFIRMED" { // restore skips those: they can sign up again
			continue
		}
		u.Groups = slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return !known[g] })
		want[name] = fmt.Sprintf("enabled=%v groups=%v attrs=%v", u.Enabled, idmirror.SortedUnique(u.Groups), sortedAttrs(u.Attributes))
	}
	if err != nil {
		t.Fatal(err)
	}
	restored, _ := w.cognito.Snapshot(target)
	got := map[string]string{}
	for _, u := range restored {
		if was, ok := strangers[u.Username]; ok {
			// Invariant 5: a stranger's account is exactly as it was.
			if now := describe(u); now != was {
				t.Fatalf("invariant 5: restore wrote to a stranger's account %s:\n before %s\n after  %s", u.Username, was, now)
			}
			delete(want, u.Username) // a conflict, reported; ops resolve it
			continue
		}
		got[u.Username] = fmt.Sprintf("enabled=%v groups=%v attrs=%v", u.Enabled, idmirror.SortedUnique(u.Groups), sortedAttrs(u.Attributes))
	}
	for _, c := range w.cognito.Calls() {
		if _, ok := strangers[c.Username]; ok && c.Pool == target && c.Write && c.Op != "AdminCreateUser" && c.Err == nil {
			t.Fatalf("invariant 5: restore called %s on the stranger %s", c.Op, c.Username)
		}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("invariant 4: the pool restored as of %s differs from the mirror then:\n mirror   %v\n restored %v", asOf.Format(time.RFC3339Nano), want, got)
	}
	calls := len(w.cognito.Calls())
	again, err := r.Run(w.ctx, opt)
	if err != nil || again.Counts[restore.InPlace] != len(want) || again.Counts[restore.Create]+again.Counts[restore.Update]+again.Counts[restore.Failed] > 0 {
		t.Fatalf("invariant 4: a second restore changed something: %+v %v", again.Counts, err)
	}
	for _, c := range w.cognito.Calls()[calls:] {
		if c.Write {
			t.Fatalf("invariant 4: a second restore wrote %s %s", c.Op, c.Username)
		}
	}
}

// checkHistory runs after every step: invariant 2 over every user the mirror holds.
func (w *world) checkHistory(t *rapid.T) {
	if err := w.store.checkHistory(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.checkActors(t)
}

// checkActors is invariant 6: an actor is attached only to a change its
// call made. A history item the reconcile recorded and a late CloudTrail
// event explained carries that event's caller only if the event is about
// that user, was made at most the skew allowance after the item was
// observed, and the item changed what the call changes, the way it changes
// it; an explained item keeps every other attribute (invariant 2 checks the
// states). Items the refresh wrote carry the caller of the event handled.
func (w *world) checkActors(t *rapid.T) {
	for _, u := range w.store.subs() {
		hist, err := w.store.UserHistory(w.ctx, w.pool, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hist {
			if h.Actor.EventID == "" {
				if h.Source == idmirror.SourceEvent && h.Actor.IsZero() {
					t.Fatalf("invariant 6: %s: an item the refresh wrote has no actor", u)
				}
				continue
			}
			c, ok := w.calls[h.Actor.EventID]
			if !ok || h.Actor.ARN != "arn:aws:iam::111122223333:user/caller-"+h.Actor.EventID {
				t.Fatalf("invariant 6: %s: actor %+v is no event's", u, h.Actor)
			}
			if !h.Actor.Inferred {
				continue // the refresh of that very event wrote it
			}
			if c.sub != u {
				t.Fatalf("invariant 6: %s: explained by %s's event %s %s", u, c.sub, c.name, h.Actor.EventID)
			}
			if h.At.Before(c.at.Add(-idsync.SkewAllowance)) || h.At.After(c.at.Add(idsync.MaxExplainDelay)) {
				t.Fatalf("invariant 6: %s: the change observed at %s was explained by a call made at %s", u, h.At, c.at)
			}
			if !made(c, h.Fields) {
				t.Fatalf("invariant 6: %s: %s (event %s) explained a change it does not make: %v", u, c.name, h.Actor.EventID, h.Fields)
			}
		}
	}
}

// made reports whether a call makes this change.
func made(c call, f map[string]idmirror.FieldChange) bool {
	in := func(list, g string) bool { return slices.Contains(strings.Split(list, ","), g) }
	switch c.name {
	case "AdminAddUserToGroup":
		fc, ok := f["groups"]
		return ok && !in(fc.Before, c.group) && in(fc.After, c.group)
	case "AdminRemoveUserFromGroup":
		fc, ok := f["groups"]
		return ok && in(fc.Before, c.group) && !in(fc.After, c.group)
	case "AdminEnableUser":
		fc, ok := f["enabled"]
		return ok && fc.Before == "false" && fc.After == "true"
	case "AdminDisableUser":
		fc, ok := f["enabled"]
		return ok && fc.After == "false"
	case "AdminDeleteUser":
		return f["deleted"].After == "true"
	case "AdminCreateUser":
		fc, ok := f["username"]
		return ok && fc.Before == ""
	}
	return false // AdminUpdateUserAttributes: its record names no attribute, so nothing is explained
}

// obs is one observation of one field group that the mirror recorded.
type obs struct {
	at    time.Time
	field idmirror.Fields
	value string
}

// recorder is the in-memory mirror, noting which field groups each write
// recorded (its clock for that group moved to the write's instant).
type recorder struct {
	*memmirror.Store
	mu         gosync.Mutex
	obs        map[string][]obs // pool + "/" + sub
	violations []string         // found inside writes, reported by checkHistory
}

func (r *recorder) PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	before, err := r.Store.GetUser(ctx, w.User.PoolID, w.User.Sub)
	if err != nil && !errors.Is(err, idmirror.ErrNotFound) {
		return 0, err
	}
	o, err := r.Store.PutUser(ctx, w)
	if err != nil || o == idmirror.Stale {
		return o, err
	}
	if w.Delete && o == idmirror.Changed && !before.Deleted && !w.At.After(before.ObservedAt) {
		r.violations = append(r.violations, fmt.Sprintf("invariant 3: %s: a tombstone at %s overrode an observation at %s",
			w.User.Sub, w.At.Format(time.RFC3339Nano), before.ObservedAt.Format(time.RFC3339Nano)))
	}
	after, err := r.Store.GetUser(ctx, w.User.PoolID, w.User.Sub)
	if err != nil {
		return o, err
	}
	fields, at := w.Fields, w.At.UTC()
	if w.Delete {
		fields |= idmirror.FieldExists
	}
	u := w.User
	u.Deleted = w.Delete
	key := w.User.PoolID + "/" + w.User.Sub
	for _, fg := range idmirror.FieldClocks {
		if fields&fg.Field == 0 || !after.Clocks[fg.Name].Equal(at) {
			continue
		}
		if c, ok := before.Clocks[fg.Name]; ok && !c.Before(at) {
			continue
		}
		r.obs[key] = append(r.obs[key], obs{at: at, field: fg.Field, value: fieldValue(u, fg.Field)})
	}
	return o, nil
}

// instants are the recorded observation times, for restores as of one of them.
func (r *recorder) instants() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Time
	for _, list := range r.obs {
		for _, o := range list {
			out = append(out, o.at)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// fieldValue flattens one field group of a user.
func fieldValue(u idmirror.User, f idmirror.Fields) string {
	switch f {
	case idmirror.FieldAttributes:
		a := maps.Clone(u.Attributes)
		delete(a, "sub")
		return sortedAttrs(a)
	case idmirror.FieldStatus:
		return u.Status
	case idmirror.FieldEnabled:
		return fmt.Sprint(u.Enabled)
	case idmirror.FieldGroups:
		return strings.Join(idmirror.SortedUnique(u.Groups), ",")
	case idmirror.FieldMFA:
		return u.MFA.String()
	case idmirror.FieldTimes:
		return u.Created.UTC().Format(time.RFC3339Nano) + "/" + u.Modified.UTC().Format(time.RFC3339Nano)
	case idmirror.FieldExists:
		return fmt.Sprint(u.Deleted)
	case idmirror.FieldOrigin:
		return u.Origin
	}
	return "?"
}

// checkHistory: for every instant T of an observation or a history item, as
// of T the mirror shows each field group as the latest recorded observation
// at or before T, or as never observed; and it knows the user as of T only
// once a whole observation (one with its attributes) was recorded.
func (r *recorder) checkHistory(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) > 0 {
		return errors.New(r.violations[0])
	}
	for key, list := range r.obs {
		pool, sub, _ := strings.Cut(key, "/")
		// Invariant 3: nothing the mirror recorded is ever hard-deleted.
		if _, err := r.Store.GetUser(ctx, pool, sub); err != nil {
			return fmt.Errorf("invariant 3: %s was recorded and is gone from the mirror: %v", key, err)
		}
		hist, err := r.Store.UserHistory(ctx, pool, sub)
		if err != nil {
			return err
		}
		instants := map[time.Time]bool{}
		for _, o := range list {
			instants[o.at] = true
		}
		for _, h := range hist {
			instants[h.At.UTC()] = true
		}
		for at := range instants {
			u, err := r.Store.UserAsOf(ctx, pool, sub, at)
			whole := false
			latest := map[idmirror.Fields]*obs{}
			for i, o := range list {
				if o.at.After(at) {
					continue
				}
				if o.field == idmirror.FieldAttributes {
					whole = true
				}
				if l := latest[o.field]; l == nil || o.at.After(l.at) {
					latest[o.field] = &list[i]
				}
			}
			switch {
			case errors.Is(err, idmirror.ErrNotFound):
				if whole {
					return fmt.Errorf("invariant 2: %s: as of %s the mirror does not know the user, yet it recorded its attributes by then", key, at.Format(time.RFC3339Nano))
				}
				continue
			case err != nil:
				return err
			case !whole:
				return fmt.Errorf("invariant 2: %s: as of %s the mirror shows a user it had not observed whole yet: %s", key, at.Format(time.RFC3339Nano), describe(u))
			}
			for _, fg := range idmirror.FieldClocks {
				if fg.Field == idmirror.FieldTimes {
					// Cognito's own created/modified times are bookkeeping: a
					// change of them alone leaves no history item (User.Fields).
					continue
				}
				want := fieldValue(idmirror.User{}, fg.Field)
				if l := latest[fg.Field]; l != nil {
					want = l.value
				}
				if got := fieldValue(u, fg.Field); got != want {
					return fmt.Errorf("invariant 2: %s: as of %s the mirror shows %s = %q, but the latest observation recorded by then says %q\nhistory:\n%s",
						key, at.Format(time.RFC3339Nano), fg.Name, got, want, formatHistory(hist))
				}
			}
		}
	}
	return nil
}

func formatHistory(hist []idmirror.Entry[idmirror.User]) string {
	var b strings.Builder
	for _, h := range hist {
		fmt.Fprintf(&b, "  %s %s v%d %v -> %s\n", h.At.Format(time.RFC3339Nano), h.Source, h.Version, h.Fields, describe(h.State))
	}
	return b.String()
}

// subs are the users the recorder saw written.
func (r *recorder) subs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.obs))
	for key := range r.obs {
		_, sub, _ := strings.Cut(key, "/")
		out = append(out, sub)
	}
	sort.Strings(out)
	return out
}
