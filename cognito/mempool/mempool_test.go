package mempool_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/cognito/mempool"
	"github.com/idmirror/idmirror/restore"
	idsync "github.com/idmirror/idmirror/sync"
)

// Service is a drop-in for the adapter where sync and restore use it.
var (
	_ idsync.PoolReader = (*mempool.Service)(nil)
	_ restore.Target    = (*mempool.Service)(nil)
)

var ctx = context.Background()

// stepClock is a clock that moves a second at every reading.
func stepClock() func() time.Time {
	var mu gosync.Mutex
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func schema() []idmirror.SchemaAttribute {
	return []idmirror.SchemaAttribute{{Name: "custom:tenant", DataType: "String", Mutable: true}, {Name: "custom:born", DataType: "String"}}
}

func newPool(t *testing.T, opts mempool.Options, cfg mempool.PoolOptions) (*mempool.Service, string) {
	t.Helper()
	if cfg.Schema == nil {
		cfg.Schema = schema()
	}
	s := mempool.New(opts)
	return s, s.CreatePool(cfg)
}

func mustCreate(t *testing.T, s *mempool.Service, pool, username string, attrs map[string]string) idmirror.User {
	t.Helper()
	u, err := s.CreateUser(ctx, pool, username, attrs, cognito.Suppress)
	if err != nil {
		t.Fatalf("create %s: %v", username, err)
	}
	return u
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSubs(t *testing.T) {
	s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{CaseSensitive: true})
	seen := map[string]bool{}
	for i := range 50 {
		u := mustCreate(t, s, pool, fmt.Sprintf("user%02d", i), map[string]string{"email": fmt.Sprintf("u%d@example.com", i)})
		if !uuidV4.MatchString(u.Sub) {
			t.Fatalf("sub %q is not a UUID v4", u.Sub)
		}
		if seen[u.Sub] {
			t.Fatalf("sub %s given twice", u.Sub)
		}
		seen[u.Sub] = true
		if _, ok := u.Attributes["sub"]; ok {
			t.Fatalf("attributes hold sub: %v", u.Attributes)
		}
		got, err := s.GetUser(ctx, pool, u.Username)
		if err != nil || got.Sub != u.Sub {
			t.Fatalf("get %s: sub %q, %v; created with %q", u.Username, got.Sub, err, u.Sub)
		}
		if name, err := s.FindBySub(ctx, pool, u.Sub); err != nil || name != u.Username {
			t.Fatalf("find by sub %s: %q, %v", u.Sub, name, err)
		}
	}
	// Admin calls take the sub in place of the username.
	last := mustCreate(t, s, pool, "last", nil)
	if err := s.SetEnabled(ctx, pool, last.Sub, false); err != nil {
		t.Fatal(err)
	}
	if u, err := s.GetUser(ctx, pool, "last"); err != nil || u.Enabled {
		t.Fatalf("disabled by sub: %+v %v", u, err)
	}
	if _, err := s.CreateUser(ctx, pool, "chosen", map[string]string{"sub": "11111111-1111-4111-8111-111111111111"}, cognito.Suppress); !errors.Is(err, idmirror.ErrInvalid) {
		t.Fatalf("create with a sub: %v, want ErrInvalid", err)
	}
	if _, err := s.FindBySub(ctx, pool, "11111111-1111-4111-8111-111111111111"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("find an unknown sub: %v", err)
	}
}

func TestCaseFolding(t *testing.T) {
	for _, tc := range []struct {
		caseSensitive bool
		wantFound     bool // "alice" finds "Alice"
	}{{false, true}, {true, false}} {
		t.Run(fmt.Sprintf("sensitive=%v", tc.caseSensitive), func(t *testing.T) {
			s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{CaseSensitive: tc.caseSensitive})
			if err := s.CreateGroup(ctx, idmirror.Group{PoolID: pool, Name: "staff"}); err != nil {
				t.Fatal(err)
			}
			alice := mustCreate(t, s, pool, "Alice", nil)
			u, err := s.GetUser(ctx, pool, "alice")
			if found := err == nil; found != tc.wantFound {
				t.Fatalf("get alice: %+v %v", u, err)
			}
			if tc.wantFound && u.Username != "Alice" {
				t.Fatalf("stored username %q, want the case given at creation", u.Username)
			}
			_, err = s.CreateUser(ctx, pool, "alice", nil, cognito.Suppress)
			if exists := errors.Is(err, idmirror.ErrExists); exists != tc.wantFound || !exists && err != nil {
				t.Fatalf("create alice beside Alice: %v", err)
			}
			err = s.AddToGroup(ctx, pool, "ALICE", "staff")
			if ok := err == nil; ok != tc.wantFound || !ok && !errors.Is(err, idmirror.ErrNotFound) {
				t.Fatalf("add ALICE to staff: %v", err)
			}
			got, _ := s.GetUser(ctx, pool, alice.Username)
			if inGroup := slices.Equal(got.Groups, []string{"staff"}); inGroup != tc.wantFound {
				t.Fatalf("Alice's groups %v", got.Groups)
			}
		})
	}
}

func TestDuplicates(t *testing.T) {
	emailPool := mempool.PoolOptions{UsernameAttributes: []string{"email"}}
	for _, tc := range []struct {
		name   string
		pool   mempool.PoolOptions
		first  string
		second string
		attrs  map[string]string // of the second
	}{
		{"same username", mempool.PoolOptions{CaseSensitive: true}, "bob", "bob", nil},
		{"same email as username", emailPool, "bob@example.com", "BOB@example.com", nil},
		{"same email as attribute", emailPool, "bob@example.com", "bob@example.com", map[string]string{"email": "bob@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, pool := newPool(t, mempool.Options{}, tc.pool)
			mustCreate(t, s, pool, tc.first, nil)
			if _, err := s.CreateUser(ctx, pool, tc.second, tc.attrs, cognito.Suppress); !errors.Is(err, idmirror.ErrExists) {
				t.Fatalf("second create: %v, want ErrExists", err)
			}
			if err := s.SignUp(ctx, pool, tc.second, tc.attrs); !errors.Is(err, idmirror.ErrExists) {
				t.Fatalf("sign up: %v, want ErrExists", err)
			}
			if users, _ := s.Snapshot(pool); len(users) != 1 {
				t.Fatalf("%d users, want 1", len(users))
			}
		})
	}

	t.Run("email pool", func(t *testing.T) {
		s, pool := newPool(t, mempool.Options{}, emailPool)
		carol := mustCreate(t, s, pool, "carol@example.com", nil)
		if carol.Username != carol.Sub || carol.Attributes["email"] != "carol@example.com" {
			t.Fatalf("created %+v: want the sub as username and the email as attribute", carol)
		}
		got, err := s.GetUser(ctx, pool, "carol@example.com")
		if err != nil || got.Sub != carol.Sub {
			t.Fatalf("get by email: %+v %v", got, err)
		}
		if _, err := s.CreateUser(ctx, pool, "dave", nil, cognito.Suppress); !errors.Is(err, idmirror.ErrInvalid) {
			t.Fatalf("a username that is no email: %v", err)
		}
		mustCreate(t, s, pool, "dave@example.com", nil)
		if err := s.UpdateAttributes(ctx, pool, "dave@example.com", map[string]string{"email": "Carol@example.com"}); !errors.Is(err, idmirror.ErrExists) {
			t.Fatalf("take carol's email: %v", err)
		}
	})

	t.Run("group", func(t *testing.T) {
		s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{})
		g := idmirror.Group{PoolID: pool, Name: "admins"}
		if err := s.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateGroup(ctx, g); !errors.Is(err, idmirror.ErrExists) {
			t.Fatalf("second group: %v", err)
		}
	})
}

func TestPaging(t *testing.T) {
	s, pool := newPool(t, mempool.Options{PageSize: 2, Now: stepClock()}, mempool.PoolOptions{CaseSensitive: true})
	if err := s.CreateGroup(ctx, idmirror.Group{PoolID: pool, Name: "all"}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 5 {
		name := fmt.Sprintf("u%d", i)
		mustCreate(t, s, pool, name, nil)
		if err := s.AddToGroup(ctx, pool, name, "all"); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}

	before := len(s.Calls())
	seen := map[string]int{}
	pages := map[time.Time]int{}
	err := s.ListUsers(ctx, pool, func(u idmirror.User, at time.Time) error {
		seen[u.Username]++
		pages[at]++
		if u.Groups != nil {
			t.Errorf("ListUsers reports groups %v", u.Groups)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if seen[name] != 1 {
			t.Fatalf("seen %v: want every user once", seen)
		}
	}
	if len(pages) != 3 {
		t.Fatalf("pages read at %v: want 3 distinct times", pages)
	}
	if calls := s.Calls()[before:]; len(calls) != 3 || calls[0].Op != "ListUsers" || calls[0].Write {
		t.Fatalf("calls %+v: want 3 ListUsers reads", calls)
	}

	var members []string
	if err := s.GroupMembers(ctx, pool, "all", func(u string) error { members = append(members, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(members, want) {
		t.Fatalf("members %v, want %v", members, want)
	}

	// The lock is released between pages: the callback can change the pool.
	seen = map[string]int{}
	err = s.ListUsers(ctx, pool, func(u idmirror.User, _ time.Time) error {
		seen[u.Username]++
		if u.Username == "u0" {
			return s.DeleteUser(ctx, pool, "u4")
		}
		return nil
	})
	if err != nil || seen["u4"] != 0 || len(seen) != 4 {
		t.Fatalf("listing while deleting u4: seen %v, %v", seen, err)
	}
}

func TestSignUpAdminCreateOnly(t *testing.T) {
	for _, adminOnly := range []bool{true, false} {
		s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{AdminCreateOnly: adminOnly})
		err := s.SignUp(ctx, pool, "erin", map[string]string{"email": "erin@example.com"})
		if refused := errors.Is(err, mempool.ErrNotAuthorized); refused != adminOnly || !refused && err != nil {
			t.Fatalf("admin only %v: sign up: %v", adminOnly, err)
		}
		users, _ := s.Snapshot(pool)
		if len(users) == 0 == !adminOnly {
			t.Fatalf("admin only %v: users %+v", adminOnly, users)
		}
		if o, _ := s.PoolOptions(pool); o.AdminCreateOnly != adminOnly {
			t.Fatalf("PoolOptions %+v", o)
		}
		if cfg, _ := s.Describe(ctx, pool); cfg.AdminCreateOnly != adminOnly {
			t.Fatalf("Describe %+v", cfg)
		}
	}
}

func TestSchema(t *testing.T) {
	s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{})
	mustCreate(t, s, pool, "frank", map[string]string{"custom:tenant": "t1", "custom:born": "1970"})
	for _, tc := range []struct {
		name, attr string
		call       func(attrs map[string]string) error
	}{
		{"create", "custom:nope", func(a map[string]string) error {
			_, err := s.CreateUser(ctx, pool, "gina", a, cognito.Suppress)
			return err
		}},
		{"sign up", "custom:nope", func(a map[string]string) error { return s.SignUp(ctx, pool, "gina", a) }},
		{"update", "custom:nope", func(a map[string]string) error { return s.UpdateAttributes(ctx, pool, "frank", a) }},
		{"update an immutable attribute", "custom:born", func(a map[string]string) error { return s.UpdateAttributes(ctx, pool, "frank", a) }},
		{"update sub", "sub", func(a map[string]string) error { return s.UpdateAttributes(ctx, pool, "frank", a) }},
	} {
		err := tc.call(map[string]string{tc.attr: "x"})
		if !errors.Is(err, idmirror.ErrInvalid) || !strings.Contains(err.Error(), tc.attr) {
			t.Errorf("%s with %s: %v, want ErrInvalid naming it", tc.name, tc.attr, err)
		}
	}
	if err := s.UpdateAttributes(ctx, pool, "frank", map[string]string{"custom:tenant": "t2"}); err != nil {
		t.Fatal(err)
	}
	u, _ := s.GetUser(ctx, pool, "frank")
	if u.Attributes["custom:tenant"] != "t2" || u.Attributes["custom:born"] != "1970" {
		t.Fatalf("attributes %v", u.Attributes)
	}
	if err := s.UpdateAttributes(ctx, pool, "frank", map[string]string{"email": "frank@example.com", "email_verified": "true"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateAttributes(ctx, pool, "frank", map[string]string{"email": "frank@example.org"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, pool, "frank"); u.Attributes["email_verified"] != "false" {
		t.Fatalf("a changed email stays verified: %v", u.Attributes)
	}
	for _, name := range []string{"sub", "custom:nope"} {
		if err := s.DeleteAttributes(ctx, pool, "frank", []string{name}); !errors.Is(err, idmirror.ErrInvalid) {
			t.Errorf("delete %s: %v, want ErrInvalid", name, err)
		}
	}
	if err := s.DeleteAttributes(ctx, pool, "frank", []string{"custom:tenant", "email"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, pool, "frank"); u.Attributes["custom:tenant"] != "" || u.Attributes["email"] != "" || u.Attributes["custom:born"] != "1970" {
		t.Fatalf("after deleting custom:tenant and email: %v", u.Attributes)
	}
	cfg, err := s.Describe(ctx, pool)
	if err != nil || !slices.ContainsFunc(cfg.Schema, func(a idmirror.SchemaAttribute) bool { return a.Name == "email" && a.Mutable }) ||
		!slices.ContainsFunc(cfg.Schema, func(a idmirror.SchemaAttribute) bool { return a.Name == "custom:tenant" }) {
		t.Fatalf("schema %+v, %v: want the standard attributes and custom:tenant", cfg.Schema, err)
	}
	if _, err := s.Describe(ctx, "us-east-1_gone"); !errors.Is(err, idmirror.ErrPoolNotFound) {
		t.Fatalf("describe a missing pool: %v", err)
	}
}

func TestDeleteGroup(t *testing.T) {
	s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{})
	for _, g := range []string{"a", "b"} {
		if err := s.CreateGroup(ctx, idmirror.Group{PoolID: pool, Name: g}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, pool, "hank", nil)
	for _, g := range []string{"a", "b"} {
		if err := s.AddToGroup(ctx, pool, "hank", g); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteGroup(ctx, pool, "a"); err != nil {
		t.Fatal(err)
	}
	u, _ := s.GetUser(ctx, pool, "hank")
	if !slices.Equal(u.Groups, []string{"b"}) {
		t.Fatalf("groups after deleting a: %v", u.Groups)
	}
	if err := s.GroupMembers(ctx, pool, "a", func(string) error { return nil }); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("members of a deleted group: %v", err)
	}
	if _, err := s.GetGroup(ctx, pool, "a"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("get a deleted group: %v", err)
	}
	// UpdateGroup sets every field: what is left out is cleared.
	seven := int32(7)
	if err := s.UpdateGroup(ctx, idmirror.Group{PoolID: pool, Name: "b", Description: "bees", Precedence: &seven}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateGroup(ctx, idmirror.Group{PoolID: pool, Name: "b", Description: "bees"}); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GetGroup(ctx, pool, "b"); err != nil || g.Description != "bees" || g.Precedence != nil {
		t.Fatalf("group b %+v, %v", g, err)
	}
	if err := s.UpdateGroup(ctx, idmirror.Group{PoolID: pool, Name: "a"}); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("update a deleted group: %v", err)
	}
	// A new group of the same name starts empty.
	if err := s.CreateGroup(ctx, idmirror.Group{PoolID: pool, Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, pool, "hank"); !slices.Equal(u.Groups, []string{"b"}) {
		t.Fatalf("groups after re-creating a: %v", u.Groups)
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		action  mempool.FaultAction
		applied bool
	}{{"fail-before", mempool.FaultBefore, false}, {"fail-after", mempool.FaultAfter, true}, {"none", mempool.FaultNone, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{})
			if err := s.CreateGroup(ctx, idmirror.Group{PoolID: pool, Name: "g"}); err != nil {
				t.Fatal(err)
			}
			mustCreate(t, s, pool, "ivy", nil)
			var asked []string
			s.SetFault(func(op, p, username string) mempool.FaultAction {
				asked = append(asked, op+" "+username)
				return tc.action
			})
			_, errCreate := s.CreateUser(ctx, pool, "jack", nil, cognito.Suppress)
			errAdd := s.AddToGroup(ctx, pool, "ivy", "g")
			if _, err := s.GetUser(ctx, pool, "ivy"); err != nil { // reads are never faulted
				t.Fatal(err)
			}
			s.SetFault(nil)
			for _, err := range []error{errCreate, errAdd} {
				if failed := errors.Is(err, mempool.ErrInjected); failed != (tc.action != mempool.FaultNone) {
					t.Fatalf("error %v", err)
				}
			}
			if !slices.Equal(asked, []string{"AdminCreateUser jack", "AdminAddUserToGroup ivy"}) {
				t.Fatalf("hook asked for %v", asked)
			}
			_, err := s.GetUser(ctx, pool, "jack")
			if created := err == nil; created != tc.applied {
				t.Fatalf("jack created %v, want %v", created, tc.applied)
			}
			ivy, _ := s.GetUser(ctx, pool, "ivy")
			if added := slices.Contains(ivy.Groups, "g"); added != tc.applied {
				t.Fatalf("ivy in g %v, want %v", added, tc.applied)
			}
			var logged []mempool.Call
			for _, c := range s.Calls() {
				if c.Write && c.Fault == tc.action && (c.Username == "jack" || c.Op == "AdminAddUserToGroup") {
					logged = append(logged, c)
				}
			}
			if len(logged) != 2 {
				t.Fatalf("logged writes %+v", logged)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	s, pool := newPool(t, mempool.Options{Now: stepClock()}, mempool.PoolOptions{})
	status := func(username string) string {
		u, err := s.GetUser(ctx, pool, username)
		if err != nil {
			t.Fatal(err)
		}
		return u.Status
	}
	is := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
	ok := func(err error) bool { return err == nil }
	steps := []struct {
		name   string
		do     func() error
		check  func(error) bool
		status string // of kim afterwards
	}{
		{"sign up", func() error { return s.SignUp(ctx, pool, "kim", map[string]string{"email": "kim@example.com"}) }, ok, "UNCONFIRMED"},
		{"unconfirmed sign in", func() error { return s.SignIn(ctx, pool, "kim") }, is(mempool.ErrNotAuthorized), "UNCONFIRMED"},
		{"confirm", func() error { return s.ConfirmSignUp(ctx, pool, "kim") }, ok, "CONFIRMED"},
		{"confirm again", func() error { return s.ConfirmSignUp(ctx, pool, "kim") }, is(mempool.ErrNotAuthorized), "CONFIRMED"},
		{"sign in", func() error { return s.SignIn(ctx, pool, "kim") }, ok, "CONFIRMED"},
		{"reset, unverified", func() error { return s.ResetPassword(ctx, pool, "kim") }, is(cognito.ErrNoVerifiedContact), "CONFIRMED"},
		{"verify", func() error { return s.UpdateAttributes(ctx, pool, "kim", map[string]string{"email_verified": "true"}) }, ok, "CONFIRMED"},
		{"reset", func() error { return s.ResetPassword(ctx, pool, "kim") }, ok, "RESET_REQUIRED"},
		{"sign in while reset", func() error { return s.SignIn(ctx, pool, "kim") }, is(mempool.ErrNotAuthorized), "RESET_REQUIRED"},
		{"random password", func() error { return s.SetRandomPassword(ctx, pool, "kim") }, ok, "CONFIRMED"},
		{"disable", func() error { return s.SetEnabled(ctx, pool, "kim", false) }, ok, "CONFIRMED"},
		{"disabled sign in", func() error { return s.SignIn(ctx, pool, "kim") }, is(mempool.ErrNotAuthorized), "CONFIRMED"},
	}
	for _, st := range steps {
		if err := st.do(); !st.check(err) {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := status("kim"); got != st.status {
			t.Fatalf("after %s: status %s, want %s", st.name, got, st.status)
		}
	}

	leo := mustCreate(t, s, pool, "leo", nil)
	if leo.Status != "FORCE_CHANGE_PASSWORD" || !leo.Enabled || leo.Created.IsZero() || !leo.Modified.Equal(leo.Created) {
		t.Fatalf("created %+v", leo)
	}
	if err := s.SignIn(ctx, pool, "leo"); !errors.Is(err, mempool.ErrNewPasswordRequired) {
		t.Fatalf("first sign in: %v", err)
	}
	if err := s.CompleteNewPassword(ctx, pool, "leo"); err != nil {
		t.Fatal(err)
	}
	after, _ := s.GetUser(ctx, pool, "leo")
	last, _ := s.LastSignIn(pool, "leo")
	if after.Status != "CONFIRMED" || last.IsZero() || !after.Modified.After(leo.Modified) {
		t.Fatalf("after a new password: %+v, last sign-in %v", after, last)
	}
	if err := s.CompleteNewPassword(ctx, pool, "leo"); !errors.Is(err, mempool.ErrNotAuthorized) {
		t.Fatalf("second new password: %v", err)
	}
	if err := s.SetSMSMFA(ctx, pool, "leo", true, true); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, pool, "leo"); !u.MFA.SMSEnabled || u.MFA.Preferred != "SMS_MFA" {
		t.Fatalf("MFA %+v", u.MFA)
	}
}

func TestCallsAndCancel(t *testing.T) {
	s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{})
	mustCreate(t, s, pool, "mia", nil)
	before := len(s.Calls())
	if _, err := s.GetUser(ctx, pool, "mia"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEnabled(ctx, pool, "mia", false); err != nil {
		t.Fatal(err)
	}
	got := s.Calls()[before:]
	want := []mempool.Call{{Op: "AdminGetUser", Pool: pool, Username: "mia"}, {Op: "AdminListGroupsForUser", Pool: pool, Username: "mia"},
		{Op: "AdminDisableUser", Pool: pool, Username: "mia", Write: true}}
	if !slices.Equal(got, want) {
		t.Fatalf("calls %+v\nwant %+v", got, want)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetUser(cancelled, pool, "mia"); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: %v", err)
	}
	if err := s.SetEnabled(cancelled, pool, "mia", true); !errors.Is(err, context.Canceled) {
		t.Fatalf("write with a cancelled context: %v", err)
	}
	if u, _ := s.GetUser(ctx, pool, "mia"); u.Enabled {
		t.Fatal("a cancelled write was applied")
	}
	if err := s.DeletePool(pool); err != nil {
		t.Fatal(err)
	}
	if err := s.ListUsers(ctx, pool, func(idmirror.User, time.Time) error { return nil }); !errors.Is(err, idmirror.ErrPoolNotFound) {
		t.Fatalf("list a deleted pool: %v", err)
	}
}

// TestConcurrent is for the race detector: writers and listings at once.
func TestConcurrent(t *testing.T) {
	s, pool := newPool(t, mempool.Options{PageSize: 3}, mempool.PoolOptions{})
	var wg gosync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.CreateUser(ctx, pool, name, nil, cognito.Suppress); err != nil {
					t.Error(err)
				}
				_ = s.ListUsers(ctx, pool, func(u idmirror.User, _ time.Time) error { _, err := s.GetUser(ctx, pool, u.Username); return err })
			}
		})
	}
	wg.Wait()
	users, _ := s.Snapshot(pool)
	if len(users) != 80 || !slices.IsSortedFunc(users, func(a, b idmirror.User) int { return strings.Compare(a.Username, b.Username) }) {
		t.Fatalf("%d users, want 80 sorted by username", len(users))
	}
}

func TestClientWriteAttributes(t *testing.T) {
	s, pool := newPool(t, mempool.Options{}, mempool.PoolOptions{Clients: map[string][]string{"web": nil, "admin": {"email", "custom:tenant"}}})
	got, err := s.ClientWriteAttributes(ctx, pool)
	if err != nil || len(got) != 2 || len(got["web"]) != 0 || !slices.Equal(got["admin"], []string{"email", "custom:tenant"}) {
		t.Fatalf("clients %v, %v", got, err)
	}
	got["admin"][0] = "changed"
	if again, _ := s.ClientWriteAttributes(ctx, pool); again["admin"][0] != "email" {
		t.Fatal("the answer aliases the pool's configuration")
	}
}
