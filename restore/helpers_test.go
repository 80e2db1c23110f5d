package restore_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/restore"
	idsync "github.com/idmirror/idmirror/sync"
)

// env: a source pool mirrored into a fresh table, Cognito reached through a
// fidelity proxy of the test's own (paging and quotas real, not shared).
type env struct {
	t      testing.TB
	direct *cip.Client // straight to cognito-local: seeding and checking
	adapt  *cognito.Pool
	store  *mirror.Store
	source testenv.Pool
}

func newEnv(t testing.TB, groups ...string) *env {
	t.Helper()
	direct := testenv.CognitoDirect(t)
	db := testenv.DynamoDB(t)
	return &env{t: t, direct: direct, adapt: testenv.PacedPool(t, testenv.Proxy(t, 1), 1),
		store:  mirror.New(db, testenv.NewTable(t, db), zaptest.NewLogger(t)),
		source: testenv.NewPool(t, direct, groups...)}
}

type seedUser struct {
	name     string
	groups   []string
	disabled bool
	tenant   string
}

// seed creates users in the source pool, four at a time.
func (e *env) seed(users []seedUser) {
	e.t.Helper()
	ctx := context.Background()
	p := aws.String(e.source.ID)
	testenv.ForEach(e.t, len(users), 4, func(i int) error {
		u := users[i]
		_, err := e.direct.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: p, Username: aws.String(u.name), MessageAction: types.MessageActionTypeSuppress,
			UserAttributes: testenv.Attrs("email", u.name+"@example.com", "email_verified", "true", "custom:tenant", u.tenant, "given_name", strings.ToUpper(u.name[:1])+u.name[1:])})
		for _, g := range u.groups {
			if err == nil {
				_, err = e.direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: p, Username: aws.String(u.name), GroupName: aws.String(g)})
			}
		}
		if err == nil && u.disabled {
			_, err = e.direct.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: p, Username: aws.String(u.name)})
		}
		if err != nil {
			return fmt.Errorf("seed %s: %w", u.name, err)
		}
		return nil
	})
}

// mirrorSource runs a repairing sync of the source pool into the mirror.
func (e *env) mirrorSource() {
	e.t.Helper()
	r := idsync.NewReconciler(e.adapt, e.store, nil, nil, idsync.Options{Repair: true, AllowMassTombstones: true})
	if _, err := r.Run(context.Background(), e.source.ID); err != nil {
		e.t.Fatalf("sync the source: %v", err)
	}
}

func (e *env) restorer(target restore.Target) *restore.Restorer {
	if target == nil {
		target = e.adapt
	}
	return restore.New(e.store, target, e.adapt.Pacer().Stats, zaptest.NewLogger(e.t))
}

// run restores into target and fails the test on error.
func (e *env) run(target string, o restore.Options) (*restore.Report, []restore.UserResult) {
	e.t.Helper()
	rep, results, err := e.try(nil, target, o, false)
	if err != nil {
		e.t.Fatalf("restore: %v", err)
	}
	return rep, results
}

func (e *env) try(t restore.Target, target string, o restore.Options, dry bool) (*restore.Report, []restore.UserResult, error) {
	var mu sync.Mutex
	var results []restore.UserResult
	o.SourcePool, o.TargetPool = e.source.ID, target
	if o.PasswordMode == "" {
		o.PasswordMode = restore.Suppress
	}
	o.OnUser = func(r restore.UserResult) { mu.Lock(); results = append(results, r); mu.Unlock() }
	run := e.restorer(t).Run
	if dry {
		run = e.restorer(t).DryRun
	}
	rep, err := run(context.Background(), o)
	sort.Slice(results, func(i, j int) bool { return results[i].Username < results[j].Username })
	return rep, results, err
}

// snapshot is a pool as compared field by field: user → description.
func snapshot(t *testing.T, c *cip.Client, pool string, skipAttrs ...string) (users map[string]string, groups map[string]string) {
	t.Helper()
	ctx := context.Background()
	users, groups = map[string]string{}, map[string]string{}
	skip := map[string]bool{"sub": true}
	for _, a := range skipAttrs {
		skip[a] = true
	}
	gl, err := c.ListGroups(ctx, &cip.ListGroupsInput{UserPoolId: aws.String(pool)})
	if err != nil {
		t.Fatal(err)
	}
	member := map[string][]string{}
	for _, g := range gl.Groups {
		groups[aws.ToString(g.GroupName)] = fmt.Sprintf("desc=%q prec=%v role=%q", aws.ToString(g.Description), aws.ToInt32(g.Precedence), aws.ToString(g.RoleArn))
		m, err := c.ListUsersInGroup(ctx, &cip.ListUsersInGroupInput{UserPoolId: aws.String(pool), GroupName: g.GroupName})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range m.Users {
			member[aws.ToString(u.Username)] = append(member[aws.ToString(u.Username)], aws.ToString(g.GroupName))
		}
	}
	ul, err := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ul.Users {
		var attrs []string
		for _, a := range u.Attributes {
			if !skip[aws.ToString(a.Name)] {
				attrs = append(attrs, aws.ToString(a.Name)+"="+aws.ToString(a.Value))
			}
		}
		sort.Strings(attrs)
		gs := member[aws.ToString(u.Username)]
		sort.Strings(gs)
		users[aws.ToString(u.Username)] = fmt.Sprintf("enabled=%v groups=%v attrs=%v", u.Enabled, gs, attrs)
	}
	return users, groups
}

func compare(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d in the original, %d restored", what, len(want), len(got))
	}
	n := 0
	for k, w := range want {
		if g := got[k]; g != w && n < 5 {
			t.Errorf("%s %s:\n original %s\n restored %s", what, k, w, g)
			n++
		}
	}
}

func userList(n int) []seedUser {
	var out []seedUser
	for i := range n {
		u := seedUser{name: fmt.Sprintf("user%03d", i), tenant: fmt.Sprintf("t%d", i%7)}
		switch {
		case i%25 == 0:
			u.groups = []string{"admins", "operators", "staff"} // several groups
		case i%5 == 0:
			u.groups = []string{"operators", "staff"}
		case i%2 == 0:
			u.groups = []string{"staff"}
		}
		u.disabled = i%10 == 3
		out = append(out, u)
	}
	return out
}
