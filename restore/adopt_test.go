package restore_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror/deploy/local/fidelity"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// byName indexes results by username.
func byName(results []restore.UserResult) map[string]restore.UserResult {
	out := map[string]restore.UserResult{}
	for _, r := range results {
		out[r.Username] = r
	}
	return out
}

// groupsOf lists a target user's groups straight from cognito-local.
func (e *env) groupsOf(pool, username string) []string {
	e.t.Helper()
	out, err := e.direct.AdminListGroupsForUser(context.Background(), &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(pool), Username: aws.String(username)})
	if err != nil {
		e.t.Fatalf("groups of %s: %v", username, err)
	}
	var gs []string
	for _, g := range out.Groups {
		gs = append(gs, aws.ToString(g.GroupName))
	}
	return gs
}

// attrsOf reads a target user's attributes straight from cognito-local.
func (e *env) attrsOf(pool, username string) map[string]string {
	e.t.Helper()
	out, err := e.direct.AdminGetUser(context.Background(), &cip.AdminGetUserInput{UserPoolId: aws.String(pool), Username: aws.String(username)})
	if err != nil {
		e.t.Fatalf("user %s: %v", username, err)
	}
	m := map[string]string{}
	for _, a := range out.UserAttributes {
		m[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	return m
}

// A stranger signs up as alice in a target whose sign-up is open, before the
// restore: restore does not make that account alice (no attribute, no
// group, no mirror link), reports a conflict, and restores the others.
func TestStrangerWhoSignedUpIsNeverAdopted(t *testing.T) {
	e := newEnv(t, "admins", "operators")
	e.seed([]seedUser{{name: "alice", groups: []string{"admins"}, tenant: "t1"}, {name: "bob", groups: []string{"operators"}, tenant: "t1"}})
	e.mirrorSource()
	ctx := context.Background()
	target := e.target(openSignUp)
	proxied := testenv.CognitoAt(t, testenv.Proxy(t, 0))
	if _, err := proxied.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(target.ClientID), Username: aws.String("alice"), Password: aws.String("Mall0ry!pass"),
		UserAttributes: testenv.Attrs("email", "mallory@evil.example")}); err != nil {
		t.Fatal(err)
	}
	e.direct.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(target.ID), Username: aws.String("alice")})

	rep, results := e.run(target.ID, restore.Options{AllowOpenSignup: true})
	got := byName(results)
	if a := got["alice"]; a.Action != restore.Conflict || a.Error == "" || len(a.Steps) != 0 {
		t.Fatalf("alice: %+v, want a conflict", a)
	}
	if got["bob"].Action != restore.Create || rep.Counts[restore.Conflict] != 1 {
		t.Fatalf("counts %v, bob %+v", rep.Counts, got["bob"])
	}
	if gs := e.groupsOf(target.ID, "alice"); len(gs) != 0 {
		t.Fatalf("the stranger was put in %v", gs)
	}
	if a := e.attrsOf(target.ID, "alice"); a["email"] != "mallory@evil.example" || a["custom:tenant"] != "" {
		t.Fatalf("the stranger's attributes were written: %v", a)
	}
	if recs, _ := e.store.FindByUsername(ctx, target.ID, "alice"); len(recs) != 0 {
		t.Fatalf("the mirror links the stranger to alice: %+v", recs)
	}
	// Runs again: still a conflict, never an adoption.
	if _, results = e.run(target.ID, restore.Options{AllowOpenSignup: true}); byName(results)["alice"].Action != restore.Conflict {
		t.Fatalf("second run: %+v", byName(results)["alice"])
	}
}

// Preflight refuses a target where users can sign themselves up, naming the
// setting, unless told otherwise; nothing is written.
func TestPreflightRefusesOpenSignUp(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "alice", groups: []string{"admins"}, tenant: "t1"}})
	e.mirrorSource()
	target := e.target(openSignUp)
	for _, dry := range []bool{true, false} {
		_, _, err := e.try(nil, target.ID, restore.Options{}, dry)
		if !errors.Is(err, restore.ErrPreflight) || !strings.Contains(err.Error(), "AllowAdminCreateUserOnly") {
			t.Fatalf("open sign-up (dry run %v): %v, want a preflight error naming AllowAdminCreateUserOnly", dry, err)
		}
	}
	if users, groups := snapshot(t, e.direct, target.ID); len(users)+len(groups) != 0 {
		t.Fatal("a refused restore wrote to the target")
	}
}

// An account an administrator made under alice's name before the restore
// (sign-up closed) is no proof either: a conflict, until ops adopt it on
// purpose with --adopt; once adopted, the mirror links it and later runs
// leave it in place.
func TestExistingAccountIsAConflictUntilAdopted(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "alice", groups: []string{"admins"}, tenant: "t1"}})
	e.mirrorSource()
	ctx := context.Background()
	target := e.target()
	testenv.CreateUser(t, e.direct, target.ID, "alice", "Passw0rd!long", testenv.Attrs("email", "someone@else.example")...)

	_, results := e.run(target.ID, restore.Options{})
	if a := byName(results)["alice"]; a.Action != restore.Conflict || !strings.Contains(strings.Join(a.Notes, " "), "--adopt") {
		t.Fatalf("alice: %+v", a)
	}
	if gs := e.groupsOf(target.ID, "alice"); len(gs) != 0 {
		t.Fatalf("conflict, yet groups %v", gs)
	}
	_, results = e.run(target.ID, restore.Options{Adopt: []string{"alice"}})
	a := byName(results)["alice"]
	if a.Action != restore.Update || !strings.Contains(strings.Join(a.Notes, " "), "adopt") {
		t.Fatalf("adopted alice: %+v", a)
	}
	if gs := e.groupsOf(target.ID, "alice"); len(gs) != 1 || gs[0] != "admins" {
		t.Fatalf("adopted alice's groups: %v", gs)
	}
	if recs, _ := e.store.FindByUsername(ctx, target.ID, "alice"); len(recs) != 1 || recs[0].Origin != e.source.ID+"/"+a.OldSub {
		t.Fatalf("adopted alice in the mirror: %+v", recs)
	}
	if _, results = e.run(target.ID, restore.Options{}); byName(results)["alice"].Action != restore.InPlace {
		t.Fatalf("after the adoption: %+v", byName(results)["alice"])
	}
}

// Cognito's answer to AdminCreateUser is lost after the user was created;
// the retry answers UsernameExistsException. Restore recognises its own
// account by the intent it recorded before the call (sign-up closed) and
// finishes; where sign-up is open the same account cannot be told from a
// stranger's and is a conflict.
func TestLostCreateResponse(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "alice", groups: []string{"admins"}, tenant: "t1"}, {name: "bob", tenant: "t2"}})
	e.mirrorSource()
	p := fidelity.New(fidelity.Options{Upstream: testenv.CognitoLocalURL(t)})
	url := serve(t, p)
	lossy := testenv.PacedPool(t, url, 1)
	for _, c := range []struct {
		name string
		opts []poolOpt
		open bool
		want restore.Action
	}{
		{"sign-up closed: adopted on the intent", nil, false, restore.Update},
		{"sign-up open: a conflict", []poolOpt{openSignUp}, true, restore.Conflict},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := e.target(c.opts...)
			p.DropResponses(fidelity.Fault{Op: "AdminCreateUser", Pool: target.ID, Username: "alice"})
			r := restore.New(e.store, lossy, nil, zaptest.NewLogger(t))
			var results []restore.UserResult
			rep, err := r.Run(context.Background(), restore.Options{SourcePool: e.source.ID, TargetPool: target.ID, PasswordMode: restore.Suppress,
				AllowOpenSignup: c.open, Concurrency: 1, OnUser: func(res restore.UserResult) { results = append(results, res) }})
			if err != nil {
				t.Fatal(err)
			}
			a := byName(results)["alice"]
			if a.Action != c.want || rep.Counts[restore.Failed] != 0 {
				t.Fatalf("alice: %+v (counts %v)", a, rep.Counts)
			}
			inAdmins := len(e.groupsOf(target.ID, "alice")) == 1
			if inAdmins != (c.want == restore.Update) {
				t.Fatalf("alice in admins: %v", inAdmins)
			}
		})
	}
}

// Old subs are not secret: custom:legacy_sub holding alice's old sub proves
// nothing if a user can write it (a stranger copies it at sign-up); it
// proves the account restore's when no app client can write it and only
// administrators create users.
func TestLegacySubProvesOnlyWhatNobodyCanWrite(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "alice", groups: []string{"admins"}, tenant: "t1"}})
	e.mirrorSource()
	ctx := context.Background()
	recs, _ := e.store.FindByUsername(ctx, e.source.ID, "alice")
	oldSub := recs[0].Sub
	opt := restore.Options{LegacySubAttribute: "custom:legacy_sub"}

	// A stranger signs up with a client that can write it.
	open := e.target(openSignUp, clientWrites())
	proxied := testenv.CognitoAt(t, testenv.Proxy(t, 0))
	if _, err := proxied.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(open.ClientID), Username: aws.String("alice"), Password: aws.String("Mall0ry!pass"),
		UserAttributes: testenv.Attrs("email", "alice@example.com", "custom:legacy_sub", oldSub)}); err != nil {
		t.Fatal(err)
	}
	opt.AllowOpenSignup = true
	if _, results := e.run(open.ID, opt); byName(results)["alice"].Action != restore.Conflict {
		t.Fatalf("a copied legacy sub: %+v", byName(results)["alice"])
	}
	opt.AllowOpenSignup = false

	// Sign-up closed, but an app client could write it: still no proof.
	writable := e.target(clientWrites())
	testenv.CreateUser(t, e.direct, writable.ID, "alice", "Passw0rd!long", testenv.Attrs("email", "alice@example.com", "custom:legacy_sub", oldSub)...)
	if _, results := e.run(writable.ID, opt); byName(results)["alice"].Action != restore.Conflict {
		t.Fatalf("a writable legacy sub: %+v", byName(results)["alice"])
	}

	// Nobody but administrators can write it now, but the account was there
	// before restore recorded any intent: the value may have been copied while
	// the pool was open (old subs are not secret). Still a conflict; nothing
	// is written to it (review finding).
	pinned := e.target()
	testenv.CreateUser(t, e.direct, pinned.ID, "alice", "Passw0rd!long", testenv.Attrs("email", "alice@example.com", "custom:legacy_sub", oldSub)...)
	_, results := e.run(pinned.ID, opt)
	if a := byName(results)["alice"]; a.Action != restore.Conflict {
		t.Fatalf("legacy sub on an account older than restore's intent: %+v", a)
	}
	if gs := e.groupsOf(pinned.ID, "alice"); len(gs) != 0 {
		t.Fatalf("groups %v: nothing may be written to it", gs)
	}
}

// serve runs a proxy for the test.
func serve(t *testing.T, p *fidelity.Proxy) string {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}
