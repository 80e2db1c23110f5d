package restore_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// Pools that sign in with email: Cognito generates the usernames, so users
// are matched and created by email; a target that signs in otherwise is refused.
func TestRestoreEmailSignInPool(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.source = testenv.NewEmailPool(t, e.direct, "admins")
	for i := range 12 {
		email := fmt.Sprintf("person%02d@example.com", i)
		out, err := e.direct.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(e.source.ID), Username: aws.String(email),
			MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs("email", email, "custom:tenant", "t1")})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			e.direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(e.source.ID), Username: out.User.Username, GroupName: aws.String("admins")})
		}
	}
	e.mirrorSource()

	plain := e.target()
	if _, _, err := e.try(nil, plain.ID, restore.Options{}, false); !errors.Is(err, restore.ErrPreflight) || !strings.Contains(err.Error(), "username attributes") {
		t.Fatalf("email pool into a username pool: %v", err)
	}

	target := e.target(signInWith(types.UsernameAttributeTypeEmail))
	rep, _ := e.run(target.ID, restore.Options{})
	if rep.Counts[restore.Create] != 12 {
		t.Fatalf("counts %v", rep.Counts)
	}
	if got, want := byEmail(t, e.direct, target.ID), byEmail(t, e.direct, e.source.ID); got != want {
		t.Fatalf("restored pool by email:\n%s\nwant\n%s", got, want)
	}
	if rep, _ = e.run(target.ID, restore.Options{}); rep.Counts[restore.InPlace] != 12 {
		t.Fatalf("second run: %v", rep.Counts)
	}
}

// byEmail describes a pool by email (its usernames are generated).
func byEmail(t *testing.T, c *cip.Client, pool string) string {
	t.Helper()
	users, _ := snapshot(t, c, pool)
	out, err := c.ListUsers(context.Background(), &cip.ListUsersInput{UserPoolId: aws.String(pool)})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, u := range out.Users {
		for _, a := range u.Attributes {
			if aws.ToString(a.Name) == "email" {
				lines = append(lines, aws.ToString(a.Value)+" "+users[aws.ToString(u.Username)])
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
