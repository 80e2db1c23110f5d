package restore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// A case-sensitive source holds Alice and alice; a case-insensitive target
// would make them one user. Preflight refuses, naming both, and writes
// nothing. (cognito-local is case-sensitive; the fidelity proxy gives the
// target Cognito's case-insensitive matching, from AWS's documentation.)
func TestCaseFoldingIsRefused(t *testing.T) {
	e := newEnv(t, "admins", "operators")
	e.seed([]seedUser{{name: "Alice", groups: []string{"admins"}, tenant: "t1"}, {name: "alice", groups: []string{"operators"}, tenant: "t2"},
		{name: "bob", tenant: "t3"}})
	e.mirrorSource()
	target := e.target(caseInsensitive)
	_, _, err := e.try(nil, target.ID, restore.Options{}, false)
	if !errors.Is(err, restore.ErrPreflight) || !strings.Contains(err.Error(), `"Alice"`) || !strings.Contains(err.Error(), `"alice"`) {
		t.Fatalf("err = %v, want a preflight error naming Alice and alice", err)
	}
	if users, groups := snapshot(t, e.direct, target.ID); len(users)+len(groups) != 0 {
		t.Fatalf("a refused restore wrote %d users, %d groups", len(users), len(groups))
	}
	// A case-sensitive target (AWS's default) keeps them apart.
	rep, _ := e.run(e.target().ID, restore.Options{})
	if rep.Counts[restore.Create] != 3 {
		t.Fatalf("case-sensitive target: %v", rep.Counts)
	}
}

// Emails that differ only in case are one sign-in name in a
// case-insensitive pool that signs in with email; the same verified email
// on two users is one alias. Both are refused before anything is written.
func TestEmailCollisionsAreRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := testenv.Name("eu-west-1_SRC")
	e.source.ID = src
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	put := func(cfg idmirror.PoolConfig, users ...idmirror.User) {
		t.Helper()
		cfg.PoolID = src
		if _, err := e.store.PutPoolConfig(ctx, cfg, at, idmirror.SourceSync); err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			u.PoolID, u.Status, u.Enabled = src, "CONFIRMED", true
			if _, err := e.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync}); err != nil {
				t.Fatal(err)
			}
		}
		at = at.Add(time.Minute)
	}
	put(idmirror.PoolConfig{UsernameAttributes: []string{"email"}},
		idmirror.User{Sub: "s1", Username: "s1", Attributes: map[string]string{"email": "Bob@example.com"}},
		idmirror.User{Sub: "s2", Username: "s2", Attributes: map[string]string{"email": "bob@example.com"}})
	target := e.target(caseInsensitive, signInWith(types.UsernameAttributeTypeEmail))
	if _, _, err := e.try(nil, target.ID, restore.Options{}, false); !errors.Is(err, restore.ErrPreflight) || !strings.Contains(err.Error(), "Bob@example.com") {
		t.Fatalf("emails in two cases into a case-insensitive email pool: %v", err)
	}

	e.source.ID = testenv.Name("eu-west-1_SRC")
	src = e.source.ID
	put(idmirror.PoolConfig{AliasAttributes: []string{"email"}},
		idmirror.User{Sub: "s3", Username: "rob", Attributes: map[string]string{"email": "rob@example.com", "email_verified": "true"}},
		idmirror.User{Sub: "s4", Username: "robert", Attributes: map[string]string{"email": "rob@example.com", "email_verified": "true"}})
	aliasTarget := newTarget(t, e.direct, []poolOpt{func(in *cip.CreateUserPoolInput, _ *cip.CreateUserPoolClientInput) {
		in.AliasAttributes = []types.AliasAttributeType{types.AliasAttributeTypeEmail}
	}})
	_, _, err := e.try(nil, aliasTarget.ID, restore.Options{}, false)
	if !errors.Is(err, restore.ErrPreflight) || !strings.Contains(err.Error(), "user rob") || !strings.Contains(err.Error(), "user robert") {
		t.Fatalf("one verified email alias on two users: %v", err)
	}
}

// A stranger holds ALICE in a case-insensitive target: restoring alice finds
// that account (Cognito matches any case) and reports a conflict; it is not
// adopted.
func TestCaseVariantStrangerIsAConflict(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "alice", groups: []string{"admins"}, tenant: "t1"}})
	e.mirrorSource()
	target := e.target(caseInsensitive)
	testenv.CreateUser(t, e.direct, target.ID, "ALICE", "Passw0rd!long", testenv.Attrs("email", "mallory@evil.example")...)
	rep, results := e.run(target.ID, restore.Options{})
	if a := byName(results)["alice"]; a.Action != restore.Conflict || rep.Counts[restore.Conflict] != 1 {
		t.Fatalf("alice beside ALICE: %+v (%v)", a, rep.Counts)
	}
	if gs := e.groupsOf(target.ID, "ALICE"); len(gs) != 0 {
		t.Fatalf("the stranger was put in %v", gs)
	}
}
