package triggers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// End to end on the local stack: cognito-local (behind the fidelity proxy)
// invokes our trigger binaries, hosted in the Lambda Runtime Interface
// Emulator behind the Lambda router.
func TestEndToEndSignUpAndRoleClaims(t *testing.T) {
	c := testenv.Cognito(t)
	db := testenv.DynamoDB(t)
	table := os.Getenv("MIRROR_TABLE")
	if table == "" {
		t.Fatal("MIRROR_TABLE is not set: the local stack exports the table its Lambdas write to")
	}
	store := mirror.New(db, table, nil)
	ctx := context.Background()
	pool := testenv.NewPool(t, c, "admins", "operators")

	// Sign-up and confirmation: the post-confirmation trigger mirrors the user.
	if _, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(pool.ClientID), Username: aws.String("newbie"),
		Password: aws.String("Passw0rd!long"), UserAttributes: testenv.Attrs("email", "newbie@example.com", "custom:tenant", "t9")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(pool.ID), Username: aws.String("newbie")}); err != nil {
		t.Fatal(err)
	}
	found, err := store.FindByUsername(ctx, pool.ID, "newbie")
	if err != nil || len(found) != 1 {
		t.Fatalf("the confirmed user is not in the mirror: %+v, %v", found, err)
	}
	u := found[0]
	if u.Email() != "newbie@example.com" || u.Attributes["custom:tenant"] != "t9" || u.Status != "CONFIRMED" || u.Source != idmirror.SourceTrigger || u.Sub == "" {
		t.Fatalf("mirrored user = %+v", u)
	}

	// Sign-ins: role claims come from groups, through the router's groupConfiguration.
	users := map[string][]string{"ada": {"admins", "operators"}, "otto": {"operators"}, "olive": nil}
	for name, groups := range users {
		testenv.CreateUser(t, c, pool.ID, name, "Passw0rd!long", testenv.Attrs("email", name+"@example.com", "custom:tenant", "admin")...)
		for _, g := range groups {
			if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(pool.ID), Username: aws.String(name), GroupName: aws.String(g)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range map[string]struct{ role, roles string }{
		"ada": {"admin", "admin operator"}, "otto": {"operator", "operator"}, "olive": {"", ""},
	} {
		out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(pool.ClientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth,
			AuthParameters: map[string]string{"USERNAME": name, "PASSWORD": "Passw0rd!long"},
			ClientMetadata: map[string]string{"role": "admin"}})
		if err != nil {
			t.Fatalf("sign in %s: %v", name, err)
		}
		claims := jwtClaims(t, aws.ToString(out.AuthenticationResult.IdToken))
		role, _ := claims["role"].(string)
		roles, _ := claims["roles"].(string)
		if role != want.role || roles != want.roles {
			t.Errorf("%s: role=%q roles=%q, want %q / %q (claims %v)", name, role, roles, want.role, want.roles, claims)
		}
		if claims["cognito:username"] != name {
			t.Errorf("%s: reserved claim changed: cognito:username=%v", name, claims["cognito:username"])
		}
	}
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
