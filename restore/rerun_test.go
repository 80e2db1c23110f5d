package restore_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/restore"
)

// crash kills a run right after the nth successful call of one kind for one
// user, to Cognito or to the mirror: a crash at that point.
type crash struct {
	op, user string
	n        int
	cancel   func()

	mu   sync.Mutex
	seen int
	hit  bool
}

func (c *crash) after(op, user string, err error) {
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if op == c.op && user == c.user {
		if c.seen++; c.seen == c.n {
			c.hit = true
			c.cancel()
		}
	}
}

type crashTarget struct {
	restore.Target
	c *crash
}

type crashMirror struct {
	restore.Mirror
	c *crash
}

func (t crashTarget) CreateUser(ctx context.Context, pool, user string, attrs map[string]string, how cognito.Invitation) (idmirror.User, error) {
	u, err := t.Target.CreateUser(ctx, pool, user, attrs, how)
	t.c.after("create", user, err)
	return u, err
}

func (t crashTarget) SetRandomPassword(ctx context.Context, pool, user string) error {
	err := t.Target.SetRandomPassword(ctx, pool, user)
	t.c.after("random password", user, err)
	return err
}

func (t crashTarget) ResetPassword(ctx context.Context, pool, user string) error {
	err := t.Target.ResetPassword(ctx, pool, user)
	t.c.after("reset", user, err)
	return err
}

func (t crashTarget) SetEnabled(ctx context.Context, pool, user string, enabled bool) error {
	err := t.Target.SetEnabled(ctx, pool, user, enabled)
	t.c.after("enabled", user, err)
	return err
}

func (t crashTarget) AddToGroup(ctx context.Context, pool, user, group string) error {
	err := t.Target.AddToGroup(ctx, pool, user, group)
	t.c.after("add", user, err)
	return err
}

func (m crashMirror) PutIntent(ctx context.Context, in mirror.Intent) error {
	err := m.Mirror.PutIntent(ctx, in)
	m.c.after("intent", in.Username, err)
	return err
}

func (m crashMirror) PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error) {
	o, err := m.Mirror.PutUser(ctx, w)
	m.c.after("mirror link", w.User.Username, err)
	return o, err
}

// state describes a target pool as restore leaves it, user by user: status
// (RESET_REQUIRED lives in the proxy: read through it), enabled, groups,
// attributes; and whether the mirror links each to its origin.
func (e *env) state(t *testing.T, pool string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out, err := e.direct.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, lu := range out.Users {
		u, err := e.adapt.GetUser(ctx, pool, aws.ToString(lu.Username))
		if err != nil {
			t.Fatal(err)
		}
		var attrs []string
		for k, v := range u.Attributes {
			attrs = append(attrs, k+"="+v)
		}
		sort.Strings(attrs)
		rec, err := e.store.GetUser(ctx, pool, u.Sub)
		linked := err == nil && strings.HasPrefix(rec.Origin, e.source.ID+"/") && rec.Status == u.Status && rec.Enabled == u.Enabled
		got[u.Username] = fmt.Sprintf("status=%s enabled=%v groups=%v attrs=%v linked=%v", u.Status, u.Enabled, u.Groups, attrs, linked)
	}
	return got
}

// Every password mode, killed after each step a restore takes (Cognito
// calls and mirror writes alike), then run again, ends exactly as an
// uninterrupted run; a third run changes nothing. In reset mode that means
// the reset of a user whose run died before it is sent by the re-run.
func TestRerunsFinishEveryPasswordMode(t *testing.T) {
	e := newEnv(t, "admins", "operators")
	e.seed([]seedUser{{name: "ann", groups: []string{"admins", "operators"}, tenant: "t1"}, {name: "bob", groups: []string{"operators"}, tenant: "t2"},
		{name: "cat", groups: []string{"operators"}, tenant: "t3", disabled: true}})
	e.mirrorSource()
	kills := []struct {
		op, user string
		n        int
		modes    []restore.PasswordMode // nil: every mode
	}{
		{"intent", "ann", 1, nil},                                            // recorded, AdminCreateUser not called
		{"create", "ann", 1, nil},                                            // created, the answer not recorded
		{"intent", "ann", 2, nil},                                            // the answer recorded
		{"intent", "ann", 3, []restore.PasswordMode{restore.Reset}},          // the reset begun
		{"random password", "ann", 1, []restore.PasswordMode{restore.Reset}}, // a random password set, not recorded
		{"intent", "ann", 4, []restore.PasswordMode{restore.Reset}},          // … recorded
		{"reset", "ann", 1, []restore.PasswordMode{restore.Reset}},           // the reset sent
		{"add", "ann", 1, nil},                                               // between two memberships
		{"create", "cat", 1, nil},                                            // a disabled user created, not yet disabled
		{"enabled", "cat", 1, nil},                                           // … disabled
		{"mirror link", "ann", 1, nil},                                       // everything done but the run's end
	}
	for _, mode := range []restore.PasswordMode{restore.Suppress, restore.Invite, restore.Reset} {
		t.Run(string(mode), func(t *testing.T) {
			clean := e.target()
			if rep, _ := e.run(clean.ID, restore.Options{PasswordMode: mode}); rep.Counts[restore.Create] != 3 {
				t.Fatalf("uninterrupted run: %v", rep.Counts)
			}
			want := e.state(t, clean.ID)
			for _, k := range kills {
				if k.modes != nil && !containsMode(k.modes, mode) {
					continue
				}
				t.Run(fmt.Sprintf("killed after %s %s #%d", k.op, k.user, k.n), func(t *testing.T) {
					target := e.target()
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					c := &crash{op: k.op, user: k.user, n: k.n, cancel: cancel}
					_, err := restore.New(crashMirror{e.store, c}, crashTarget{e.adapt, c}, nil, nil).Run(ctx, restore.Options{SourcePool: e.source.ID, TargetPool: target.ID, PasswordMode: mode, Concurrency: 2})
					if !c.hit || err == nil {
						t.Fatalf("the crash did not happen (hit %v, err %v)", c.hit, err)
					}
					rep, results := e.run(target.ID, restore.Options{PasswordMode: mode, Concurrency: 2})
					if rep.Counts[restore.Failed]+rep.Counts[restore.Conflict] != 0 {
						t.Fatalf("re-run: %v %+v", rep.Counts, results)
					}
					compare(t, "user", want, e.state(t, target.ID))
					if rep, _ := e.run(target.ID, restore.Options{PasswordMode: mode}); rep.Counts[restore.InPlace] != 3 {
						t.Fatalf("third run: %v", rep.Counts)
					}
				})
			}
		})
	}
}

func containsMode(ms []restore.PasswordMode, m restore.PasswordMode) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// A pending reset is sent only while the account is as restore left it: a
// user who has reset (or signed in and chosen a password) since is done.
// (The one window where restore cannot tell: killed between setting the
// random password and recording the account's modification date right
// after; nobody was sent anything yet, so the re-run sends the reset.)
func TestPendingResetNotResentToAUserWhoActed(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "ann", groups: []string{"admins"}, tenant: "t1"}})
	e.mirrorSource()
	ctx := context.Background()
	// The user sets her own password: a new permanent password through the
	// env's proxy (which holds RESET_REQUIRED), a second after restore's.
	ownPassword := func(pool string) {
		t.Helper()
		time.Sleep(1100 * time.Millisecond) // cognito-local dates changes in whole seconds
		if err := e.adapt.SetRandomPassword(ctx, pool, "ann"); err != nil {
			t.Fatal(err)
		}
	}
	status := func(pool string) string {
		t.Helper()
		u, err := e.adapt.GetUser(ctx, pool, "ann")
		if err != nil {
			t.Fatal(err)
		}
		return u.Status
	}
	for _, k := range []struct {
		op string
		n  int
	}{{"reset", 1}, {"intent", 4}} {
		t.Run(fmt.Sprintf("killed after %s #%d, then the user reset", k.op, k.n), func(t *testing.T) {
			target := e.target()
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			c := &crash{op: k.op, user: "ann", n: k.n, cancel: cancel}
			if _, err := restore.New(crashMirror{e.store, c}, crashTarget{e.adapt, c}, nil, nil).Run(cctx,
				restore.Options{SourcePool: e.source.ID, TargetPool: target.ID, PasswordMode: restore.Reset}); err == nil || !c.hit {
				t.Fatalf("the crash did not happen: %v", err)
			}
			ownPassword(target.ID)
			_, results := e.run(target.ID, restore.Options{PasswordMode: restore.Reset})
			if a := byName(results)["ann"]; a.Action == restore.Conflict || strings.Contains(strings.Join(a.Steps, " "), "reset") {
				t.Fatalf("re-run: %+v", a)
			}
			if s := status(target.ID); s != "CONFIRMED" {
				t.Fatalf("ann is %s, want CONFIRMED with her own password", s)
			}
		})
	}
	// Created by an invite-mode run; signed in and chose a password; a later
	// reset-mode run leaves her alone.
	target := e.target()
	e.run(target.ID, restore.Options{PasswordMode: restore.Invite})
	ownPassword(target.ID)
	_, results := e.run(target.ID, restore.Options{PasswordMode: restore.Reset})
	if a := byName(results)["ann"]; a.Action != restore.InPlace || status(target.ID) != "CONFIRMED" {
		t.Fatalf("invited, signed in, then a reset-mode run: %+v %s", a, status(target.ID))
	}
}
