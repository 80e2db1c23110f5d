package restore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

func TestRestoreFullPool(t *testing.T) {
	e := newEnv(t, "admins", "operators", "staff")
	ctx := context.Background()
	e.direct.UpdateGroup(ctx, &cip.UpdateGroupInput{UserPoolId: aws.String(e.source.ID), GroupName: aws.String("admins"),
		Description: aws.String("Administrators"), RoleArn: aws.String("arn:aws:iam::123456789012:role/backoffice-admin")})
	e.seed(userList(500))
	e.mirrorSource()
	target := e.target()

	// A dry run plans and writes nothing.
	rep, results, err := e.try(nil, target.ID, restore.Options{}, true)
	if err != nil || rep.Counts[restore.Create] != 500 || len(results) != 500 {
		t.Fatalf("dry run: %v %+v", err, rep)
	}
	if users, groups := snapshot(t, e.direct, target.ID); len(users) != 0 || len(groups) != 0 {
		t.Fatalf("the dry run wrote %d users, %d groups", len(users), len(groups))
	}

	rep, results = e.run(target.ID, restore.Options{LegacySubAttribute: "custom:legacy_sub"})
	t.Logf("restored %d users in %s with %d Cognito calls (%d throttled)", rep.Users, rep.FinishedAt.Sub(rep.StartedAt).Round(time.Millisecond), rep.Calls, rep.Throttled)
	if rep.Counts[restore.Create] != 500 || rep.Counts[restore.Failed] != 0 {
		t.Fatalf("counts = %v", rep.Counts)
	}
	wantUsers, wantGroups := snapshot(t, e.direct, e.source.ID)
	gotUsers, gotGroups := snapshot(t, e.direct, target.ID, "custom:legacy_sub")
	compare(t, "group", wantGroups, gotGroups)
	compare(t, "user", wantUsers, gotUsers)

	// The mirror knows the target at once: new subs linked to the old ones.
	for _, r := range results[:20] {
		recs, err := e.store.FindByUsername(ctx, target.ID, r.Username)
		if err != nil || len(recs) != 1 {
			t.Fatalf("target %s in the mirror: %v %v", r.Username, recs, err)
		}
		got := recs[0]
		if got.Sub != r.NewSub || got.Sub == r.OldSub || got.Origin != e.source.ID+"/"+r.OldSub || got.Source != idmirror.SourceRestore {
			t.Fatalf("mirror entry of %s: %+v (result %+v)", r.Username, got, r)
		}
		if got.Attributes["custom:legacy_sub"] != r.OldSub {
			t.Fatalf("legacy sub of %s = %q", r.Username, got.Attributes["custom:legacy_sub"])
		}
	}

	// A second run changes nothing.
	rep, _ = e.run(target.ID, restore.Options{LegacySubAttribute: "custom:legacy_sub"})
	if rep.Counts[restore.InPlace] != 500 || len(rep.Counts) != 1 {
		t.Fatalf("second run: %v", rep.Counts)
	}
	for _, g := range rep.Groups {
		if g.Action != restore.InPlace {
			t.Fatalf("second run touched group %+v", g)
		}
	}
	h, _ := e.store.UserHistory(ctx, target.ID, results[0].NewSub)
	if len(h) != 1 {
		t.Fatalf("the second run added mirror history: %d items", len(h))
	}
}

// killer cancels the run right after a chosen call succeeds: a crash at
// that point.
type killer struct {
	restore.Target
	cancel func()
	after  func(op, user string) bool
	mu     sync.Mutex // workers call in parallel; after may count
}

func (k *killer) hit(op, user string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.after(op, user) {
		k.cancel()
	}
}

func (k *killer) CreateUser(ctx context.Context, pool, user string, attrs map[string]string, how cognito.Invitation) (idmirror.User, error) {
	u, err := k.Target.CreateUser(ctx, pool, user, attrs, how)
	if err == nil {
		k.hit("create", user)
	}
	return u, err
}

func (k *killer) AddToGroup(ctx context.Context, pool, user, group string) error {
	err := k.Target.AddToGroup(ctx, pool, user, group)
	if err == nil {
		k.hit("add", user)
	}
	return err
}

func TestRestoreResumesAfterKills(t *testing.T) {
	e := newEnv(t, "admins", "operators", "staff")
	e.seed(userList(40))
	e.mirrorSource()
	want, wantGroups := snapshot(t, e.direct, e.source.ID)
	for name, after := range map[string]func(op, user string) bool{
		"between a disabled user's creation and its disable": func(op, u string) bool { return op == "create" && u == "user003" },
		"between a user's creation and its memberships":      func(op, u string) bool { return op == "create" && u == "user025" },
		"between a user's first and second membership":       func(op, u string) bool { return op == "add" && u == "user000" },
		"after the twentieth creation, many users half-done": countdown("create", 20),
	} {
		t.Run(name, func(t *testing.T) {
			target := e.target()
			ctx, cancel := context.WithCancel(context.Background())
			k := &killer{Target: e.adapt, cancel: cancel, after: after}
			o := restore.Options{SourcePool: e.source.ID, TargetPool: target.ID, PasswordMode: restore.Suppress, Concurrency: 4}
			if _, err := e.restorer(k).Run(ctx, o); err == nil {
				t.Fatal("the killed run reported success")
			}
			rep, _ := e.run(target.ID, restore.Options{Concurrency: 4})
			if rep.Counts[restore.Failed] != 0 {
				t.Fatalf("re-run counts: %v", rep.Counts)
			}
			got, gotGroups := snapshot(t, e.direct, target.ID)
			compare(t, "group", wantGroups, gotGroups)
			compare(t, "user", want, got)
			if rep, _ = e.run(target.ID, restore.Options{}); rep.Counts[restore.InPlace] != 40 {
				t.Fatalf("third run: %v", rep.Counts)
			}
		})
	}
}

func countdown(op string, n int) func(string, string) bool {
	return func(o, _ string) bool {
		if o == op {
			n--
		}
		return n == 0
	}
}

func TestPreflightRefusesMissingCustomAttribute(t *testing.T) {
	e := newEnv(t, "admins")
	e.seed([]seedUser{{name: "ann", groups: []string{"admins"}, tenant: "t1"}})
	e.mirrorSource()
	ctx := context.Background()
	// A target without custom:tenant.
	out, err := e.direct.CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String(testenv.Name("bare")),
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	bare := aws.ToString(out.UserPool.Id)
	t.Cleanup(func() {
		e.direct.DeleteUserPool(context.Background(), &cip.DeleteUserPoolInput{UserPoolId: aws.String(bare)})
	})
	_, _, err = e.try(nil, bare, restore.Options{}, false)
	if !errors.Is(err, restore.ErrPreflight) || !strings.Contains(err.Error(), "custom:tenant") {
		t.Fatalf("err = %v, want a preflight error naming custom:tenant", err)
	}
	if users, groups := snapshot(t, e.direct, bare); len(users)+len(groups) != 0 {
		t.Fatal("a refused restore wrote to the target")
	}
	// Other preflight failures.
	if _, _, err := e.try(nil, "local_nosuchpool", restore.Options{}, false); !errors.Is(err, restore.ErrPreflight) {
		t.Fatalf("missing target: %v", err)
	}
	target := e.target()
	if _, _, err := e.try(nil, target.ID, restore.Options{LegacySubAttribute: "custom:nope"}, false); !errors.Is(err, restore.ErrPreflight) {
		t.Fatalf("missing legacy attribute: %v", err)
	}
	if _, _, err := e.try(nil, target.ID, restore.Options{PasswordMode: "whatever"}, false); !errors.Is(err, idmirror.ErrInvalid) {
		t.Fatalf("bad password mode: %v", err)
	}
}

func TestRestoreOneDeletedUserIntoTheSamePool(t *testing.T) {
	e := newEnv(t, "admins", "operators")
	e.seed([]seedUser{{name: "ann", groups: []string{"admins", "operators"}, tenant: "t1"}, {name: "bob", groups: []string{"operators"}, tenant: "t2"}})
	e.mirrorSource()
	ctx := context.Background()
	before, _ := snapshot(t, e.direct, e.source.ID)
	e.direct.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(e.source.ID), Username: aws.String("ann")})
	e.mirrorSource() // the mirror tombstones ann
	e.closeSignUp(e.source.ID)
	if recs, _ := e.store.FindByUsername(ctx, e.source.ID, "ann"); len(recs) != 1 || !recs[0].Deleted {
		t.Fatalf("ann should be a tombstone: %+v", recs)
	}
	rep, results := e.run(e.source.ID, restore.Options{Users: []string{"ann"}, PasswordMode: restore.Reset})
	if rep.Counts[restore.Create] != 1 || len(results) != 1 {
		t.Fatalf("counts %v", rep.Counts)
	}
	after, _ := snapshot(t, e.direct, e.source.ID)
	compare(t, "user", before, after)
	// RESET_REQUIRED lives in the fidelity proxy (cognito-local lacks it): read through it.
	u, err := e.adapt.GetUser(ctx, e.source.ID, "ann")
	if err != nil || u.Status != "RESET_REQUIRED" {
		t.Fatalf("reset mode: status %q, %v", u.Status, err)
	}
	recs, _ := e.store.FindByUsername(ctx, e.source.ID, "ann")
	if len(recs) != 2 {
		t.Fatalf("the mirror should hold the tombstone and the restored user: %+v", recs)
	}
}
