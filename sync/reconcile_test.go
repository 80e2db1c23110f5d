package sync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	idsync "github.com/idmirror/idmirror/sync"
)

func TestReconcileReportsAndRepairsEveryKindOfDrift(t *testing.T) {
	e := newEnv(t, "admins", "operators", "staff", "temp")
	ctx := context.Background()
	const n = 130 // three ListUsers pages
	subs := map[string]string{}
	for i := range n {
		name := userName(i)
		subs[name] = e.createUser(name, "email", name+"@example.com", "custom:tenant", "t1")
		switch {
		case i < 5:
			e.addToGroup(name, "admins")
		case i < 20:
			e.addToGroup(name, "operators")
		}
		if i%2 == 0 {
			e.addToGroup(name, "staff") // 65 members: two ListUsersInGroup pages
		}
	}
	e.addToGroup(userName(7), "temp")

	// A first run against an empty mirror reports everything and writes nothing.
	rep := e.mustReconcile(idsync.Options{})
	if k := kinds(rep); k[idsync.UserMissing] != n || k[idsync.GroupMissing] != 4 || k[idsync.ConfigChanged] != 1 || rep.Users != n || rep.Memberships != 5+15+65+1 {
		t.Fatalf("first report: %v, users %d, memberships %d", k, rep.Users, rep.Memberships)
	}
	if _, err := e.store.GetUser(ctx, e.pool.ID, subs[userName(0)]); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatal("a report-only run wrote to the mirror")
	}
	// Calls: users/60 + memberships/60 per group + groups + a few; never one call per user.
	if rep.Calls > 3+(1+1+2+1)+2+2 {
		t.Fatalf("a reconcile of %d users made %d Cognito calls", n, rep.Calls)
	}

	rep = e.mustReconcile(idsync.Options{Repair: true})
	if rep.Repaired != n+4+1 {
		t.Fatalf("repaired %d, want %d", rep.Repaired, n+4+1)
	}
	if rep = e.mustReconcile(idsync.Options{}); !rep.InSync() {
		t.Fatalf("after a repair: %+v", rep.Drift)
	}
	admin, _ := e.store.GetUser(ctx, e.pool.ID, subs[userName(0)])
	if fmt.Sprint(admin.Groups) != "[admins staff]" || !admin.Enabled || admin.Source != idmirror.SourceSync {
		t.Fatalf("mirrored admin: %+v", admin)
	}

	// Drift behind the mirror's back.
	p := aws.String(e.pool.ID)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.direct.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: p, Username: aws.String(userName(10)), UserAttributes: attrs("custom:tenant", "t2")}))
	must(e.direct.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: p, Username: aws.String(userName(11))}))
	must(e.direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: p, Username: aws.String(userName(30)), GroupName: aws.String("admins")}))
	must(e.direct.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: p, Username: aws.String(userName(40)), GroupName: aws.String("staff")}))
	must(e.direct.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: p, Username: aws.String(userName(50))}))
	newSub := e.createUser("admin-made", "email", "made@example.com")
	must(e.direct.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: p, GroupName: aws.String("auditors")}))
	must(e.direct.UpdateGroup(ctx, &cip.UpdateGroupInput{UserPoolId: p, GroupName: aws.String("operators"), Description: aws.String("Back-office operators")}))
	must(e.direct.DeleteGroup(ctx, &cip.DeleteGroupInput{UserPoolId: p, GroupName: aws.String("temp")}))

	rep = e.mustReconcile(idsync.Options{})
	got := map[string]string{}
	for _, d := range rep.Drift {
		got[d.Kind+" "+d.Key] = fmt.Sprint(d.Fields)
	}
	want := map[string]bool{
		"user-changed " + subs[userName(10)]: true, // attribute
		"user-changed " + subs[userName(11)]: true, // disabled
		"user-changed " + subs[userName(30)]: true, // + admins
		"user-changed " + subs[userName(40)]: true, // - staff
		"user-changed " + subs[userName(7)]:  true, // lost temp with the group
		"user-gone " + subs[userName(50)]:    true,
		"user-missing " + newSub:             true,
		"group-missing auditors":             true,
		"group-changed operators":            true,
		"group-gone temp":                    true,
	}
	if len(got) != len(want) {
		t.Fatalf("drift = %v", got)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Fatalf("drift misses %q: %v", k, got)
		}
	}
	if f := got["user-changed "+subs[userName(11)]]; f != "map[enabled:{true false}]" {
		t.Fatalf("disable drift fields = %s", f)
	}

	e.mustReconcile(idsync.Options{Repair: true})
	check := func(name string, f func(u idmirror.User) bool) {
		t.Helper()
		u, err := e.store.GetUser(ctx, e.pool.ID, subs[name])
		if err != nil || !f(u.User) {
			t.Fatalf("%s after repair: %+v, %v", name, u, err)
		}
	}
	check(userName(10), func(u idmirror.User) bool { return u.Attributes["custom:tenant"] == "t2" })
	check(userName(11), func(u idmirror.User) bool { return !u.Enabled })
	check(userName(30), func(u idmirror.User) bool { return fmt.Sprint(u.Groups) == "[admins staff]" })
	check(userName(40), func(u idmirror.User) bool { return len(u.Groups) == 0 })
	check(userName(50), func(u idmirror.User) bool { return u.Deleted && u.Email() == userName(50)+"@example.com" })
	if g, err := e.store.GetGroup(ctx, e.pool.ID, "temp"); err != nil || !g.Deleted {
		t.Fatalf("temp group: %+v %v", g, err)
	}
	if rep = e.mustReconcile(idsync.Options{}); !rep.InSync() {
		t.Fatalf("after the second repair: %+v", rep.Drift)
	}
	// No user was read one by one: membership came from group listings. The
	// one user gone from the pool is confirmed gone with AdminGetUser (strongly
	// consistent, unlike ListUsers) by each run that found it missing: the
	// report and the repair.
	if c := testenv.ProxyCounts(t, "", e.pool.ID); c["AdminListGroupsForUser"] != 0 || c["AdminGetUser"] > 2 {
		t.Fatalf("per-user calls: %v", c)
	}
}

func TestDeepReconcileMirrorsMFA(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sub := e.createUser("sam", "phone_number", "+15555550100", "phone_number_verified", "true")
	e.mustReconcile(idsync.Options{Repair: true})
	// Through the proxy: cognito-local lacks AdminSetUserMFAPreference.
	if err := setSMSMFA(e, "sam"); err != nil {
		t.Fatal(err)
	}
	if rep := e.mustReconcile(idsync.Options{}); !rep.InSync() {
		t.Fatalf("a shallow reconcile cannot see MFA, yet reported %+v", rep.Drift)
	}
	rep := e.mustReconcile(idsync.Options{Repair: true, Deep: true})
	if len(rep.Drift) != 1 || rep.Drift[0].Fields["mfa"].After != "sms,preferred=SMS_MFA" {
		t.Fatalf("deep drift = %+v", rep.Drift)
	}
	u, _ := e.store.GetUser(ctx, e.pool.ID, sub)
	if !u.MFA.SMSEnabled || u.MFA.Preferred != "SMS_MFA" {
		t.Fatalf("mirrored MFA = %+v", u.MFA)
	}
}

func TestSafetyValveAndRoleMap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 20 {
		e.createUser(userName(i))
	}
	rm := idmirror.DefaultRoleMap()
	e.mustReconcile(idsync.Options{Repair: true, RoleMap: &rm})
	if got, err := e.store.RoleMapAsOf(ctx, e.pool.ID, time.Now()); err != nil || len(got.Roles) != 2 {
		t.Fatalf("recorded role map: %+v %v", got, err)
	}
	for i := range 10 {
		e.direct.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String(userName(i))})
	}
	// Half the pool, and more than 5 users: both limits exceeded.
	rep, err := e.reconcile(idsync.Options{Repair: true, MaxTombstones: 5})
	if !errors.Is(err, idsync.ErrMassTombstones) || rep.Refused == "" || kinds(rep)[idsync.UserGone] != 10 {
		t.Fatalf("half the pool gone: err %v, report %+v", err, rep)
	}
	tombstones := 0
	e.store.ExportUsers(ctx, e.pool.ID, idmirror.ExportOptions{Segments: 2}, func(r idmirror.UserRecord) error {
		if r.Deleted {
			tombstones++
		}
		return nil
	})
	if tombstones != 0 {
		t.Fatalf("the safety valve let %d tombstones through", tombstones)
	}
	rep = e.mustReconcile(idsync.Options{Repair: true, AllowMassTombstones: true})
	if rep.Repaired != 10 {
		t.Fatalf("with the valve lifted: repaired %d", rep.Repaired)
	}
}

func TestVanishedPoolTombstonesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sub := e.createUser("keep")
	e.mustReconcile(idsync.Options{Repair: true})
	if _, err := e.direct.DeleteUserPool(ctx, &cip.DeleteUserPoolInput{UserPoolId: aws.String(e.pool.ID)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.reconcile(idsync.Options{Repair: true, AllowMassTombstones: true})
	if !errors.Is(err, idmirror.ErrPoolNotFound) {
		t.Fatalf("err = %v, want ErrPoolNotFound", err)
	}
	u, err := e.store.GetUser(ctx, e.pool.ID, sub)
	if err != nil || u.Deleted {
		t.Fatalf("a vanished pool tombstoned its user: %+v %v", u, err)
	}
}
