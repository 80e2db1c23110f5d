package drill_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/drill"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/restore"
	idsync "github.com/idmirror/idmirror/sync"
	"github.com/idmirror/idmirror/verify"
)

// stack: a source pool on cognito-local, seeded directly, mirrored by a
// real sync into a fresh DynamoDB Local table; the drill reaches Cognito
// through a fidelity proxy of its own (paging and quotas real) at the
// default quota share.
type stack struct {
	direct  *cip.Client
	proxy   string
	adapter *cognito.Pool
	store   *mirror.Store
	source  string
}

func newStack(t testing.TB, n int) *stack {
	t.Helper()
	direct := testenv.CognitoDirect(t)
	db := testenv.DynamoDB(t)
	s := &stack{direct: direct, proxy: testenv.Proxy(t, 1), store: mirror.New(db, testenv.NewTable(t, db), zaptest.NewLogger(t))}
	s.adapter = testenv.PacedPool(t, s.proxy, 0.5)
	s.source = testenv.NewPool(t, direct, "admins", "operators", "staff").ID
	ctx := context.Background()
	p := aws.String(s.source)
	testenv.ForEach(t, n, 4, func(i int) error {
		name := fmt.Sprintf("user%04d", i)
		attrs := testenv.Attrs("email", name+"@example.com", "email_verified", "true", "custom:tenant", fmt.Sprint("t", i%5), "given_name", "U"+name)
		if i%7 == 0 {
			attrs = append(attrs, testenv.Attrs("phone_number", fmt.Sprintf("+1555%07d", i), "phone_number_verified", "true")...)
		}
		_, err := direct.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: p, Username: aws.String(name), MessageAction: types.MessageActionTypeSuppress, UserAttributes: attrs})
		for g, every := range map[string]int{"admins": 10, "operators": 3, "staff": 2} {
			if err == nil && i%every == 0 {
				_, err = direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: p, Username: aws.String(name), GroupName: aws.String(g)})
			}
		}
		if err == nil && i%10 == 3 {
			_, err = direct.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: p, Username: aws.String(name)})
		}
		if err == nil && i%7 == 0 {
			// SMS MFA lives in the proxy (cognito-local does not support it): set it through the proxy.
			err = s.adapter.SetSMSMFA(ctx, s.source, name, true, i%14 == 0)
		}
		return err
	})
	r := idsync.NewReconciler(s.adapter, s.store, nil, nil, idsync.Options{Repair: true, Deep: true})
	if _, err := r.Run(ctx, s.source); err != nil {
		t.Fatalf("sync the source: %v", err)
	}
	return s
}

func (s *stack) drill(t testing.TB, opt drill.Options) (*drill.Report, error) {
	t.Helper()
	opt.SourcePool = s.source
	return drill.New(s.store, s.adapter, s.adapter.Pacer().Stats, nil, zaptest.NewLogger(t)).Run(context.Background(), opt)
}

// sourceState is the source pool as cognito-local holds it, with memberships.
func (s *stack) sourceState(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	users, err := s.direct.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(s.source)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Users {
		var attrs []string
		for _, a := range u.Attributes {
			attrs = append(attrs, aws.ToString(a.Name)+"="+aws.ToString(a.Value))
		}
		sort.Strings(attrs)
		lines = append(lines, fmt.Sprint(aws.ToString(u.Username), u.Enabled, u.UserStatus, u.UserLastModifiedDate.UnixNano(), attrs))
	}
	for _, g := range []string{"admins", "operators", "staff"} {
		m, err := s.direct.ListUsersInGroup(ctx, &cip.ListUsersInGroupInput{UserPoolId: aws.String(s.source), GroupName: aws.String(g)})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range m.Users {
			lines = append(lines, g+" "+aws.ToString(u.Username))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// sourceWrites counts the write calls the proxy saw on the source pool.
func (s *stack) sourceWrites(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for op, n := range testenv.ProxyCounts(t, s.proxy, s.source) {
		switch op {
		case "DescribeUserPool", "ListUsers", "ListGroups", "ListUsersInGroup", "AdminGetUser", "AdminListGroupsForUser", "GetGroup":
		default:
			out[op] = n
		}
	}
	return out
}

func (s *stack) scratchPools(t testing.TB) []cognito.PoolInfo {
	t.Helper()
	ps, err := s.adapter.ListUserPools(context.Background(), drill.NamePrefix)
	if err != nil {
		t.Fatal(err)
	}
	var mine []cognito.PoolInfo
	for _, p := range ps {
		if p.Tags[drill.SourceTagKey] == s.source {
			mine = append(mine, p)
		}
	}
	return mine
}

// The "done when", on the local stack through the fidelity proxy:
// a 300-user pool with groups, disabled users and SMS MFA drills with zero
// differences; a membership removed before verify fails the drill and is
// named; an interrupted drill leaves no scratch pool after the next run; the
// source pool is unchanged and received no write.
func TestDrillOnTheLocalStack(t *testing.T) {
	s := newStack(t, 300)
	before, writes := s.sourceState(t), s.sourceWrites(t)

	rep, err := s.drill(t, drill.Options{Deep: true})
	if err != nil {
		t.Fatalf("drill: %v; differences %+v", err, rep.Verify)
	}
	if rep.UsersRestored != 300 || rep.Differences != 0 || rep.MembershipsRestored != 30+100+150 || rep.Groups != 3 {
		t.Fatalf("restored %d users, %d memberships, %d groups, %d differences", rep.UsersRestored, rep.MembershipsRestored, rep.Groups, rep.Differences)
	}
	for _, p := range rep.Phases {
		t.Logf("phase %-16s %8s %5.1f%%", p.Name, p.Took.Round(time.Millisecond), 100*p.Share)
	}
	t.Logf("300 users: wall %s, RTO %s, RPO %+v, restore calls %d", rep.WallTime.Round(time.Millisecond), rep.RTO.Round(time.Millisecond), rep.RPO, rep.Restore.Calls)

	// Broken on purpose: a membership removed in the scratch pool before verify.
	var victim string
	rep, err = s.drill(t, drill.Options{Sample: 30, Seed: 3, BeforeVerify: func(ctx context.Context, scratch string) error {
		m, err := s.direct.ListUsersInGroup(ctx, &cip.ListUsersInGroupInput{UserPoolId: aws.String(scratch), GroupName: aws.String("staff")})
		if err != nil || len(m.Users) == 0 {
			return fmt.Errorf("no staff in the sample: %v", err)
		}
		victim = aws.ToString(m.Users[0].Username)
		_, err = s.direct.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: aws.String(scratch), Username: aws.String(victim), GroupName: aws.String("staff")})
		return err
	}})
	if !errors.Is(err, drill.ErrDifferences) || rep.Differences != 1 {
		t.Fatalf("broken drill: err %v, %d differences", err, rep.Differences)
	}
	if d := rep.Verify.Differences[0]; d.Kind != verify.MissingMembership || d.User != victim || d.Group != "staff" {
		t.Fatalf("difference %+v; want %s's staff membership", d, victim)
	}

	// Interrupted: its own pool is deleted on the way out; one killed
	// outright (a leftover) is deleted by the next run.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err = drill.New(s.store, s.adapter, nil, nil, zaptest.NewLogger(t)).Run(ctx, drill.Options{SourcePool: s.source, Sample: 30, Concurrency: 1,
		OnUser: func(restore.UserResult) {
			if n++; n == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted drill: %v", err)
	}
	if ps := s.scratchPools(t); len(ps) != 0 {
		t.Fatalf("an interrupted drill left %+v", ps)
	}
	left, _, err := s.adapter.CreateUserPool(context.Background(), cognito.NewPoolSpec{Name: drill.NamePrefix + "killed", Scratch: true,
		Tags: map[string]string{drill.TagKey: drill.TagValue, drill.SourceTagKey: s.source}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = s.drill(t, drill.Options{Sample: 10})
	if err != nil || len(rep.Cleaned) != 1 || rep.Cleaned[0] != left {
		t.Fatalf("next drill: err %v, cleaned %v (want %s)", err, rep.Cleaned, left)
	}
	if ps := s.scratchPools(t); len(ps) != 0 {
		t.Fatalf("scratch pools left: %+v", ps)
	}

	// The source pool: unchanged, no write reached it.
	if after := s.sourceState(t); after != before {
		t.Fatal("the source pool changed")
	}
	if w := s.sourceWrites(t); fmt.Sprint(w) != fmt.Sprint(writes) {
		t.Fatalf("writes to the source pool: before %v, after %v", writes, w)
	}
}

// BenchmarkDrill drills IDMIRROR_BENCH_USERS users (default 1000) through
// the fidelity proxy at Cognito's default quotas and the default share
// (0.5), and reports the wall time and each phase's share. Slow; run it on
// its own:
//
//	go test -run XXX -bench Drill -benchtime 1x -timeout 30m ./drill
func BenchmarkDrill(b *testing.B) {
	n := 1000
	if v := os.Getenv("IDMIRROR_BENCH_USERS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	s := newStack(b, n)
	for b.Loop() {
		rep, err := s.drill(b, drill.Options{Deep: true})
		if err != nil || rep.UsersRestored != n {
			b.Fatalf("%v: restored %d of %d", err, rep.UsersRestored, n)
		}
		b.ReportMetric(rep.WallTime.Seconds(), "wall-s")
		b.ReportMetric(rep.RTO.Seconds(), "rto-s")
		for _, p := range rep.Phases {
			b.ReportMetric(100*p.Share, p.Name+"-%")
		}
		b.Logf("%d users: wall %s, RTO %s; restore %d Cognito calls (%d throttled); verify %d calls", n, rep.WallTime.Round(time.Millisecond),
			rep.RTO.Round(time.Millisecond), rep.Restore.Calls, rep.Restore.Throttled, rep.Verify.Calls)
		for _, p := range rep.Phases {
			b.Logf("  %-16s %9s %5.1f%%", p.Name, p.Took.Round(time.Millisecond), 100*p.Share)
		}
	}
}
