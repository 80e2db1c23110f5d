package drill_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/cognito/mempool"
	"github.com/idmirror/idmirror/drill"
	"github.com/idmirror/idmirror/mirror/memmirror"
	"github.com/idmirror/idmirror/restore"
	"github.com/idmirror/idmirror/security"
	idsync "github.com/idmirror/idmirror/sync"
	"github.com/idmirror/idmirror/verify"
)

// world: a source pool in mempool, mirrored into memmirror by a real sync.
type world struct {
	svc    *mempool.Service
	store  *memmirror.Store
	source string
	users  int
}

func newWorld(t *testing.T, n int) *world {
	t.Helper()
	ctx := context.Background()
	svc := mempool.New(mempool.Options{})
	w := &world{svc: svc, store: memmirror.New(), users: n}
	w.source = svc.CreatePool(mempool.PoolOptions{Name: "prod", AdminCreateOnly: false, CaseSensitive: false, MFA: "OPTIONAL",
		SMSRoleArn: "arn:aws:iam::123456789012:role/sms", AutoVerified: []string{"email"},
		PasswordPolicy: &idmirror.PasswordPolicy{MinLength: 12, RequireNumbers: true},
		Schema:         []idmirror.SchemaAttribute{{Name: "custom:tenant", DataType: "String", Mutable: true}}})
	p7, p9 := int32(7), int32(9)
	for _, g := range []idmirror.Group{{PoolID: w.source, Name: "admins", Precedence: &p7, Description: "all"},
		{PoolID: w.source, Name: "operators", Precedence: &p9}, {PoolID: w.source, Name: "empty", RoleArn: "arn:aws:iam::123456789012:role/x"}} {
		if err := svc.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		name := fmt.Sprintf("user%03d", i)
		if _, err := svc.CreateUser(ctx, w.source, name, map[string]string{"email": name + "@example.com", "email_verified": "true",
			"custom:tenant": fmt.Sprint("t", i%3)}, cognito.Suppress); err != nil {
			t.Fatal(err)
		}
		must(t, i%10 == 0, func() error { return svc.SetEnabled(ctx, w.source, name, false) })
		must(t, i%4 == 0, func() error { return svc.AddToGroup(ctx, w.source, name, "admins") })
		must(t, i%3 == 0, func() error { return svc.AddToGroup(ctx, w.source, name, "operators") })
		must(t, i%7 == 0, func() error { return svc.SetSMSMFA(ctx, w.source, name, true, i%14 == 0) })
		must(t, i%5 == 0, func() error { return svc.SetRandomPassword(ctx, w.source, name) })
	}
	// One that never finished signing up: not carried over.
	must(t, true, func() error { return svc.SignUp(ctx, w.source, "halfway", map[string]string{"email": "h@example.com"}) })
	w.sync(t)
	return w
}

func must(t *testing.T, cond bool, f func() error) {
	t.Helper()
	if cond {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) sync(t *testing.T) {
	t.Helper()
	r := idsync.NewReconciler(w.svc, w.store, zaptest.NewLogger(t), nil, idsync.Options{Repair: true, Deep: true})
	if _, err := r.Run(context.Background(), w.source); err != nil {
		t.Fatal(err)
	}
}

// sourceWrites lists the writes that reached the source pool.
func (w *world) sourceWrites() []string {
	var out []string
	for _, c := range w.svc.Calls() {
		if c.Pool == w.source && c.Write {
			out = append(out, c.Op+" "+c.Username)
		}
	}
	return out
}

func (w *world) mirrorChanges(t *testing.T) int {
	t.Helper()
	n := 0
	err := w.store.Changes(context.Background(), idmirror.ChangeQuery{PoolID: w.source, From: time.Unix(0, 0)}, func(idmirror.Change) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func scratchPools(t *testing.T, svc *mempool.Service) []cognito.PoolInfo {
	t.Helper()
	ps, err := svc.ListUserPools(context.Background(), drill.NamePrefix)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestDrillRestoresVerifiesAndCleansUp(t *testing.T) {
	w := newWorld(t, 120)
	before, _ := w.svc.Snapshot(w.source)
	writesBefore, changesBefore := len(w.sourceWrites()), w.mirrorChanges(t)
	var events bytes.Buffer
	d := drill.New(w.store, w.svc, nil, security.New(zaptest.NewLogger(t), &events, "test"), zaptest.NewLogger(t))

	rep, err := d.Run(context.Background(), drill.Options{SourcePool: w.source, Deep: true})
	if err != nil {
		t.Fatalf("drill: %v (differences %v)", err, rep.Verify)
	}
	if rep.Differences != 0 || rep.UsersRestored != w.users || rep.MirroredUsers != w.users+1 {
		t.Fatalf("restored %d of %d users (mirrored %d), %d differences", rep.UsersRestored, w.users, rep.MirroredUsers, rep.Differences)
	}
	wantMembers := 0
	for i := range w.users {
		if i%4 == 0 {
			wantMembers++
		}
		if i%3 == 0 {
			wantMembers++
		}
	}
	if rep.MembershipsRestored != wantMembers || rep.Groups != 3 {
		t.Fatalf("memberships %d (want %d), groups %d", rep.MembershipsRestored, wantMembers, rep.Groups)
	}
	if len(rep.Verify.NotCarried) != 1 || rep.Verify.NotCarried[0].User != "halfway" {
		t.Fatalf("not carried over: %+v", rep.Verify.NotCarried)
	}
	// The source pool: no write, unchanged; the mirror: nothing written.
	if writes := w.sourceWrites(); len(writes) != writesBefore {
		t.Fatalf("writes to the source pool: %v", writes[writesBefore:])
	}
	after, _ := w.svc.Snapshot(w.source)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatal("the source pool changed")
	}
	if n := w.mirrorChanges(t); n != changesBefore {
		t.Fatalf("the mirror got %d history items", n-changesBefore)
	}
	if _, _, err := w.store.PoolConfig(context.Background(), rep.ScratchPool); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("the mirror holds the scratch pool's configuration: %v", err)
	}
	// The scratch pool is gone; it was made from the mirrored configuration.
	if ps := scratchPools(t, w.svc); len(ps) != 0 {
		t.Fatalf("scratch pools left: %+v", ps)
	}
	// One security event, drill ran.
	if got := strings.Count(events.String(), `"Kind":"drill_ran"`); got != 1 || strings.Count(events.String(), "\n") != 1 {
		t.Fatalf("security events: %s", events.String())
	}
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "clean-leftovers,snapshot,create-pool,restore,verify,rpo,delete-pool" || rep.RTO <= 0 || rep.RTO > rep.WallTime {
		t.Fatalf("phases %v, RTO %s of %s", names, rep.RTO, rep.WallTime)
	}
	if rep.RPO.UnmirroredUsers != 0 || rep.RPO.Estimate != 0 {
		t.Fatalf("RPO %+v: the mirror was just synced", rep.RPO)
	}
	for _, res := range rep.Users {
		if res.Action == restore.Create && res.NewSub == "" {
			t.Fatalf("no origin link for %s", res.Username)
		}
	}
}

func TestDrillKeepsTheScratchPoolAsMirrored(t *testing.T) {
	w := newWorld(t, 10)
	d := drill.New(w.store, w.svc, nil, nil, zaptest.NewLogger(t))
	rep, err := d.Run(context.Background(), drill.Options{SourcePool: w.source, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	ps := scratchPools(t, w.svc)
	if len(ps) != 1 || ps[0].ID != rep.ScratchPool || ps[0].Tags[drill.TagKey] != drill.TagValue {
		t.Fatalf("kept pools %+v", ps)
	}
	src, _ := w.svc.Describe(context.Background(), w.source)
	got, _ := w.svc.Describe(context.Background(), rep.ScratchPool)
	src.PoolID, src.Name, got.PoolID, got.Name = "", "", "", ""
	if !got.AdminCreateOnly {
		t.Fatal("the scratch pool lets users sign up")
	}
	src.AdminCreateOnly = true // the scratch pool is closed whatever the source allows
	if fmt.Sprint(src.Fields()) != fmt.Sprint(got.Fields()) {
		t.Fatalf("scratch pool config\n%v\nwant\n%v", got.Fields(), src.Fields())
	}
}

func TestBrokenRestoreFailsAndNamesTheMembership(t *testing.T) {
	w := newWorld(t, 30)
	d := drill.New(w.store, w.svc, nil, nil, zaptest.NewLogger(t))
	rep, err := d.Run(context.Background(), drill.Options{SourcePool: w.source, BeforeVerify: func(ctx context.Context, scratch string) error {
		return w.svc.RemoveFromGroup(ctx, scratch, "user004", "admins")
	}})
	if !errors.Is(err, drill.ErrDifferences) || rep.Differences != 1 {
		t.Fatalf("err %v, %d differences", err, rep.Differences)
	}
	df := rep.Verify.Differences[0]
	if df.Kind != verify.MissingMembership || df.User != "user004" || df.Group != "admins" || !strings.Contains(err.Error(), "user004") {
		t.Fatalf("difference %+v, err %v", df, err)
	}
	if ps := scratchPools(t, w.svc); len(ps) != 0 {
		t.Fatalf("a failed drill left %+v", ps)
	}
}

func TestInterruptedDrillLeavesNothingAfterTheNextRun(t *testing.T) {
	w := newWorld(t, 40)
	ctx, cancel := context.WithCancel(context.Background())
	d := drill.New(w.store, w.svc, nil, nil, zaptest.NewLogger(t))
	n := 0
	_, err := d.Run(ctx, drill.Options{SourcePool: w.source, Concurrency: 1, OnUser: func(restore.UserResult) {
		if n++; n == 5 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted drill: %v", err)
	}
	if ps := scratchPools(t, w.svc); len(ps) != 0 {
		t.Fatalf("an interrupted drill left %+v", ps)
	}
	// A drill killed outright (no deferred clean-up) leaves its pool: the
	// next run deletes it, and only tagged ones.
	left, _, err := w.svc.CreateUserPool(context.Background(), cognito.NewPoolSpec{Name: drill.NamePrefix + "killed", Scratch: true,
		Tags: map[string]string{drill.TagKey: drill.TagValue, drill.SourceTagKey: w.source}})
	if err != nil {
		t.Fatal(err)
	}
	untagged := w.svc.CreatePool(mempool.PoolOptions{Name: drill.NamePrefix + "not-ours"})
	other, _, err := w.svc.CreateUserPool(context.Background(), cognito.NewPoolSpec{Name: drill.NamePrefix + "another-source", Scratch: true,
		Tags: map[string]string{drill.TagKey: drill.TagValue, drill.SourceTagKey: "us-east-1_other"}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Run(context.Background(), drill.Options{SourcePool: w.source})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cleaned) != 1 || rep.Cleaned[0] != left {
		t.Fatalf("cleaned %v, want [%s]", rep.Cleaned, left)
	}
	if ps := scratchPools(t, w.svc); len(ps) != 2 || ps[0].ID != untagged || ps[1].ID != other {
		t.Fatalf("pools left %+v; want the untagged %s and another source's %s", ps, untagged, other)
	}
}

func TestSampleDrillsSomeUsers(t *testing.T) {
	w := newWorld(t, 60)
	d := drill.New(w.store, w.svc, nil, nil, zaptest.NewLogger(t))
	rep, err := d.Run(context.Background(), drill.Options{SourcePool: w.source, Sample: 12, Seed: 7, Deep: true})
	if err != nil {
		t.Fatalf("%v %+v", err, rep.Verify)
	}
	// The sample is of live users: the one who never finished signing up
	// may be in it, and is reported as not carried over, not restored.
	unconfirmed := 0
	for _, n := range rep.Verify.NotCarried {
		if strings.Contains(n.Reason, "UNCONFIRMED") {
			unconfirmed++
		}
	}
	if rep.Sampled != 12 || rep.UsersRestored+unconfirmed != 12 || rep.Groups != 3 {
		t.Fatalf("sampled %d, restored %d (+%d unconfirmed), groups %d", rep.Sampled, rep.UsersRestored, unconfirmed, rep.Groups)
	}
}

func TestRPOSeesUnmirroredChanges(t *testing.T) {
	w := newWorld(t, 10)
	if err := w.svc.UpdateAttributes(context.Background(), w.source, "user003", map[string]string{"custom:tenant": "moved"}); err != nil {
		t.Fatal(err)
	}
	d := drill.New(w.store, w.svc, nil, nil, zaptest.NewLogger(t))
	rep, err := d.Run(context.Background(), drill.Options{SourcePool: w.source})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RPO.UnmirroredUsers != 1 || rep.RPO.Estimate <= 0 {
		t.Fatalf("RPO %+v; want the one unmirrored change", rep.RPO)
	}
}

func TestDrillNeedsAMirroredConfiguration(t *testing.T) {
	svc := mempool.New(mempool.Options{})
	d := drill.New(memmirror.New(), svc, nil, nil, zaptest.NewLogger(t))
	_, err := d.Run(context.Background(), drill.Options{SourcePool: "us-east-1_nothing"})
	if !errors.Is(err, idmirror.ErrNotFound) || !strings.Contains(err.Error(), "run a sync first") {
		t.Fatalf("err %v", err)
	}
}
