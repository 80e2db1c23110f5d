package sync_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	idsync "github.com/idmirror/idmirror/sync"
)

func (e *env) refresher() *idsync.Refresher {
	return idsync.NewRefresher(e.adapt, e.store, zaptest.NewLogger(e.t), e.pool.ID, []string{e.pool.ClientID})
}

func handle(t *testing.T, r *idsync.Refresher, ev []byte) idsync.Outcome {
	t.Helper()
	o, err := r.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return o
}

func TestEventsRefreshTheUserTheyTouch(t *testing.T) {
	e := newEnv(t, "admins")
	ctx := context.Background()
	p := aws.String(e.pool.ID)
	sub := e.createUser("eve", "email", "eve@example.com")
	r := e.refresher()

	// AdminCreateUser: the user is known by sub only.
	if o := handle(t, r, e.event("AdminCreateUser", sub, "")); o != idsync.Refreshed {
		t.Fatalf("create: %s", o)
	}
	u, err := e.store.GetUser(ctx, e.pool.ID, sub)
	if err != nil || u.Username != "eve" || u.Email() != "eve@example.com" {
		t.Fatalf("after create: %+v %v", u, err)
	}

	// Two changes whose events arrive in reverse order, one of them twice.
	e.direct.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: p, Username: aws.String("eve")})
	disabled := e.event("AdminDisableUser", sub, "")
	e.direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: p, Username: aws.String("eve"), GroupName: aws.String("admins")})
	added := e.event("AdminAddUserToGroup", sub, "admins")
	if o := handle(t, r, added); o != idsync.Refreshed {
		t.Fatalf("group event: %s", o)
	}
	for _, ev := range [][]byte{disabled, added, disabled} {
		if o := handle(t, r, ev); o != idsync.Unchanged {
			t.Fatalf("late or repeated event: %s, want unchanged", o)
		}
	}
	u, _ = e.store.GetUser(ctx, e.pool.ID, sub)
	if u.Enabled || fmt.Sprint(u.Groups) != "[admins]" || u.Source != "event" {
		t.Fatalf("after the events: %+v", u)
	}
	// Create; then the group event's refresh: what it found beyond its own
	// call (the disable) as observed, then the grant with its caller; the
	// late disable event explains the disable. Nothing more.
	hist, _ := e.store.UserHistory(ctx, e.pool.ID, sub)
	if len(hist) != 3 {
		t.Fatalf("history has %d items, want 3 (create, the refresh's observed disable, its grant)", len(hist))
	}
	if _, ok := hist[1].Fields["enabled"]; !ok || !hist[1].Actor.Inferred || hist[1].Actor.Detail != "CloudTrail AdminDisableUser" {
		t.Errorf("the disable: %+v by %+v", hist[1].Fields, hist[1].Actor)
	}
	if _, ok := hist[2].Fields["groups"]; !ok || hist[2].Actor.Inferred || hist[2].Actor.Detail != "CloudTrail AdminAddUserToGroup" {
		t.Errorf("the grant: %+v by %+v", hist[2].Fields, hist[2].Actor)
	}

	// A call made with the user's access token: no pool id, our app client.
	e.direct.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: p, Username: aws.String("eve"), UserAttributes: attrs("custom:tenant", "t7")})
	if o := handle(t, r, e.event("UpdateUserAttributes", sub, "")); o != idsync.Refreshed {
		t.Fatalf("token-based event: %s", o)
	}

	// Deletion: a tombstone, once.
	e.direct.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: p, Username: aws.String("eve")})
	del := e.event("AdminDeleteUser", sub, "")
	if o := handle(t, r, del); o != idsync.Tombstoned {
		t.Fatalf("delete: %s", o)
	}
	if o := handle(t, r, del); o != idsync.Unchanged {
		t.Fatalf("delete again: %s", o)
	}
	u, _ = e.store.GetUser(ctx, e.pool.ID, sub)
	if !u.Deleted || u.Attributes["custom:tenant"] != "t7" {
		t.Fatalf("tombstone: %+v", u)
	}
	// A late event about the deleted user does not bring it back.
	if o := handle(t, r, disabled); o != idsync.Unchanged {
		t.Fatalf("late event for a deleted user: %s", o)
	}
}

func TestGroupEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := aws.String(e.pool.ID)
	r := e.refresher()
	e.direct.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: p, GroupName: aws.String("auditors"), Description: aws.String("Read-only"), Precedence: aws.Int32(5)})
	if o := handle(t, r, e.event("CreateGroup", "", "auditors")); o != idsync.Refreshed {
		t.Fatalf("create group: %s", o)
	}
	sub := e.createUser("abe")
	e.addToGroup("abe", "auditors")
	handle(t, r, e.event("AdminAddUserToGroup", sub, "auditors"))
	e.direct.UpdateGroup(ctx, &cip.UpdateGroupInput{UserPoolId: p, GroupName: aws.String("auditors"), Description: aws.String("Auditors")})
	if o := handle(t, r, e.event("UpdateGroup", "", "auditors")); o != idsync.Refreshed {
		t.Fatalf("update group: %s", o)
	}
	g, _ := e.store.GetGroup(ctx, e.pool.ID, "auditors")
	if g.Description != "Auditors" || *g.Precedence != 5 {
		t.Fatalf("group: %+v", g)
	}
	e.direct.DeleteGroup(ctx, &cip.DeleteGroupInput{UserPoolId: p, GroupName: aws.String("auditors")})
	if o := handle(t, r, e.event("DeleteGroup", "", "auditors")); o != idsync.Tombstoned {
		t.Fatalf("delete group: %s", o)
	}
	u, _ := e.store.GetUser(ctx, e.pool.ID, sub)
	if len(u.Groups) != 0 {
		t.Fatalf("the deleted group's member still has it: %v", u.Groups)
	}
}

func TestUnrelatedAndBadEventsAreIgnored(t *testing.T) {
	e := newEnv(t)
	r := e.refresher()
	sub := e.createUser("ian")
	good := string(e.event("AdminDisableUser", sub, ""))
	for name, ev := range map[string]string{
		"other pool":    strings.ReplaceAll(good, e.pool.ID, "eu-west-1_OTHER"),
		"failed call":   strings.Replace(good, `"readOnly": false`, `"readOnly": false, "errorCode": "UserNotFoundException"`, 1),
		"sign-in":       strings.Replace(good, `"eventName": "AdminDisableUser"`, `"eventName": "AdminInitiateAuth"`, 1),
		"other source":  strings.Replace(good, `"source": "aws.cognito-idp"`, `"source": "aws.s3"`, 1),
		"foreign token": strings.Replace(string(e.event("UpdateUserAttributes", sub, "")), e.pool.ClientID, "someoneelse", 1),
	} {
		if o := handle(t, r, []byte(ev)); o != idsync.Ignored {
			t.Errorf("%s: %s, want ignored", name, o)
		}
	}
}

// An event of this pool that the refresher cannot apply is an error (Lambda
// retries it, then parks it in the dead-letter queue), never dropped quietly.
func TestOurEventsNotUnderstoodAreErrors(t *testing.T) {
	e := newEnv(t)
	r := e.refresher()
	sub := e.createUser("ivy")
	good := string(e.event("AdminDisableUser", sub, ""))
	for name, ev := range map[string]string{
		"malformed":         `{"detail":`,
		"no sub":            strings.Replace(good, `"sub": "`+sub+`"`, `"x": "y"`, 1),
		"hidden sub":        strings.Replace(good, `"sub": "`+sub+`"`, `"sub": "HIDDEN_DUE_TO_SECURITY_REASONS"`, 1),
		"sub of a bad type": strings.Replace(good, `"sub": "`+sub+`"`, `"sub": 42`, 1),
		"bad event time":    strings.Replace(good, `"eventTime": "`, `"eventTime": "x`, 1),
		"group not named":   strings.Replace(string(e.event("DeleteGroup", "", "admins")), `"groupName": "admins"`, `"groupName": ["admins"]`, 1),
	} {
		if o, err := r.Handle(context.Background(), []byte(ev)); err == nil {
			t.Errorf("%s: %s with no error; want an error so that it is retried and parked", name, o)
		}
	}
}

// A deleted group's tombstone keeps its last known definition; the deletion
// itself closes the memberships, without a Cognito read per member.
func TestDeleteGroupKeepsItsLastStateAndClosesMemberships(t *testing.T) {
	e := newEnv(t, "auditors")
	ctx := context.Background()
	var subs []string
	for i := range 12 {
		subs = append(subs, e.createUser(userName(i)))
		e.addToGroup(userName(i), "auditors")
	}
	e.direct.UpdateGroup(ctx, &cip.UpdateGroupInput{UserPoolId: aws.String(e.pool.ID), GroupName: aws.String("auditors"), Description: aws.String("Read-only")})
	e.mustReconcile(idsync.Options{Repair: true})
	before, _ := e.store.GetGroup(ctx, e.pool.ID, "auditors")
	e.direct.DeleteGroup(ctx, &cip.DeleteGroupInput{UserPoolId: aws.String(e.pool.ID), GroupName: aws.String("auditors")})
	reads := &counting{PoolReader: e.adapt}
	r := idsync.NewRefresher(reads, e.store, zaptest.NewLogger(t), e.pool.ID, nil)
	if o := handle(t, r, e.event("DeleteGroup", "", "auditors")); o != idsync.Tombstoned {
		t.Fatalf("delete group: %s", o)
	}
	if reads.users > 0 {
		t.Fatalf("%d Cognito reads of members: the deletion itself is the observation", reads.users)
	}
	g, _ := e.store.GetGroup(ctx, e.pool.ID, "auditors")
	if !g.Deleted || g.Description != before.Description || g.Description == "" {
		t.Fatalf("tombstone %+v; want the last state (description %q) kept", g.Group, before.Description)
	}
	hist, _ := e.store.GroupHistory(ctx, e.pool.ID, "auditors")
	if last := hist[len(hist)-1]; len(last.Fields) != 1 || last.Fields["deleted"].After != "true" {
		t.Fatalf("the tombstone's history says more changed than the deletion: %+v", last.Fields)
	}
	if ms, _ := e.store.Members(ctx, e.pool.ID, "auditors", time.Time{}); len(ms) != 0 {
		t.Fatalf("%d memberships still open", len(ms))
	}
	for _, sub := range subs {
		if u, _ := e.store.GetUser(ctx, e.pool.ID, sub); len(u.Groups) != 0 {
			t.Fatalf("%s still in %v", sub, u.Groups)
		}
	}
}

type counting struct {
	idsync.PoolReader
	users int
}

func (c *counting) GetUser(ctx context.Context, pool, username string) (idmirror.User, error) {
	c.users++
	return c.PoolReader.GetUser(ctx, pool, username)
}

func (c *counting) FindBySub(ctx context.Context, pool, sub string) (string, error) {
	c.users++
	return c.PoolReader.FindBySub(ctx, pool, sub)
}

// ConfirmSignUp is a token-less client call, known by its app client id: its
// event brings the new status to the mirror in seconds, as AdminConfirmSignUp's does.
func TestConfirmSignUpEventRefreshesTheStatus(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.direct.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(e.pool.ClientID), Username: aws.String("sue"), Password: aws.String("Passw0rd!long")})
	if err != nil {
		t.Fatal(err)
	}
	sub := aws.ToString(out.UserSub)
	r := e.refresher()
	handle(t, r, e.event("AdminCreateUser", sub, "")) // seen while UNCONFIRMED
	if _, err := e.direct.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String("sue")}); err != nil {
		t.Fatal(err)
	}
	if o := handle(t, r, e.event("ConfirmSignUp", sub, "")); o != idsync.Refreshed {
		t.Fatalf("ConfirmSignUp: %s", o)
	}
	if u, _ := e.store.GetUser(ctx, e.pool.ID, sub); u.Status != "CONFIRMED" {
		t.Fatalf("status %q after the event", u.Status)
	}
	// Another app's client id: not ours.
	if o := handle(t, r, []byte(strings.ReplaceAll(string(e.event("ConfirmSignUp", sub, "")), e.pool.ClientID, "someoneelse"))); o != idsync.Ignored {
		t.Fatalf("foreign client: %s", o)
	}
}

func TestEventForVanishedPoolTombstonesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sub := e.createUser("vic")
	r := e.refresher()
	handle(t, r, e.event("AdminCreateUser", sub, ""))
	e.direct.DeleteUserPool(ctx, &cip.DeleteUserPoolInput{UserPoolId: aws.String(e.pool.ID)})
	if o := handle(t, r, e.event("AdminDeleteUser", sub, "")); o != idsync.PoolMissing {
		t.Fatalf("event for a vanished pool: %s", o)
	}
	if o := handle(t, r, e.event("DeleteGroup", "", "admins")); o != idsync.PoolMissing {
		t.Fatalf("group event for a vanished pool: %s", o)
	}
	u, _ := e.store.GetUser(ctx, e.pool.ID, sub)
	if u.Deleted {
		t.Fatal("a vanished pool tombstoned its user")
	}
}
