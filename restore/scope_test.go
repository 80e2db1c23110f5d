package restore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// restore --user ann into the live pool brings ann back and creates a group
// she needs that is gone, but never changes an existing group for everyone:
// a live group that differs from the mirror is reported and left as it is.
func TestUserRestoreLeavesExistingGroupsAlone(t *testing.T) {
	e := newEnv(t, "admins", "operators")
	ctx := context.Background()
	p := aws.String(e.source.ID)
	e.direct.UpdateGroup(ctx, &cip.UpdateGroupInput{UserPoolId: p, GroupName: aws.String("admins"), Description: aws.String("Admins, as mirrored"), Precedence: aws.Int32(1)})
	e.seed([]seedUser{{name: "ann", groups: []string{"admins", "operators"}, tenant: "t1"}, {name: "bob", groups: []string{"admins"}, tenant: "t2"}})
	e.mirrorSource()
	// Behind the mirror's back: ann is deleted, admins changes, operators goes.
	e.direct.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: p, Username: aws.String("ann")})
	e.direct.UpdateGroup(ctx, &cip.UpdateGroupInput{UserPoolId: p, GroupName: aws.String("admins"), Description: aws.String("Admins, live"), Precedence: aws.Int32(5),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/live")})
	e.direct.DeleteGroup(ctx, &cip.DeleteGroupInput{UserPoolId: p, GroupName: aws.String("operators")})
	e.closeSignUp(e.source.ID)

	rep, results := e.run(e.source.ID, restore.Options{Users: []string{"ann"}})
	if a := byName(results)["ann"]; a.Action != restore.Create {
		t.Fatalf("ann: %+v", a)
	}
	g, err := e.direct.GetGroup(ctx, &cip.GetGroupInput{UserPoolId: p, GroupName: aws.String("admins")})
	if err != nil || aws.ToString(g.Group.Description) != "Admins, live" || aws.ToInt32(g.Group.Precedence) != 5 || aws.ToString(g.Group.RoleArn) != "arn:aws:iam::123456789012:role/live" {
		t.Fatalf("the live admins group was changed: %+v %v", g.Group, err)
	}
	groups := map[string]restore.GroupResult{}
	for _, gr := range rep.Groups {
		groups[gr.Name] = gr
	}
	if a := groups["admins"]; a.Action != restore.InPlace || !strings.Contains(strings.Join(a.Notes, " "), "description") {
		t.Fatalf("admins in the report: %+v", a)
	}
	if o := groups["operators"]; o.Action != restore.Create {
		t.Fatalf("operators in the report: %+v", o)
	}
	if gs := e.groupsOf(e.source.ID, "ann"); len(gs) != 2 {
		t.Fatalf("ann's groups: %v", gs)
	}
	// The mirror records admins as it is live, not as the mirror had it.
	rec, err := e.store.GetGroup(ctx, e.source.ID, "admins")
	if err != nil || rec.Description != "Admins, live" {
		t.Fatalf("the mirror's admins: %+v %v", rec, err)
	}
}

// restore --as-of T brings a user back as at T: an attribute added after T
// is removed (custom:tenant=evil does not survive); one Cognito manages, or
// an immutable one, stays.
func TestAsOfRemovesLaterAttributes(t *testing.T) {
	e := newEnv(t, "admins")
	ctx := context.Background()
	p := aws.String(e.source.ID)
	e.seed([]seedUser{{name: "ann", groups: []string{"admins"}, tenant: "t1"}})
	e.direct.AdminDeleteUserAttributes(ctx, &cip.AdminDeleteUserAttributesInput{UserPoolId: p, Username: aws.String("ann"), UserAttributeNames: []string{"custom:tenant"}})
	e.mirrorSource()
	before := time.Now()
	time.Sleep(20 * time.Millisecond)
	e.direct.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: p, Username: aws.String("ann"),
		UserAttributes: testenv.Attrs("custom:tenant", "evil", "given_name", "Mallory")})
	e.mirrorSource()
	e.closeSignUp(e.source.ID)

	_, results := e.run(e.source.ID, restore.Options{Users: []string{"ann"}, AsOf: before})
	if a := byName(results)["ann"]; a.Action != restore.Update || !strings.Contains(strings.Join(a.Steps, " "), "delete attributes custom:tenant") {
		t.Fatalf("ann as of before the change: %+v", a)
	}
	got := e.attrsOf(e.source.ID, "ann")
	if _, has := got["custom:tenant"]; has || got["given_name"] != "Ann" || got["email"] != "ann@example.com" || got["sub"] == "" {
		t.Fatalf("ann's attributes: %v", got)
	}
	if _, results = e.run(e.source.ID, restore.Options{Users: []string{"ann"}, AsOf: before}); byName(results)["ann"].Action != restore.InPlace {
		t.Fatalf("second run: %+v", byName(results)["ann"])
	}
}
