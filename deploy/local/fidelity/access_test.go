package fidelity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/deploy/local/fidelity"
	"github.com/idmirror/idmirror/internal/testenv"
)

// configuredPool creates a pool (custom:tenant and custom:legacy_sub) shaped
// by edit, and an app client shaped by client; both are gone after the test.
func configuredPool(t *testing.T, c *cip.Client, edit func(*cip.CreateUserPoolInput), client func(*cip.CreateUserPoolClientInput)) testenv.Pool {
	t.Helper()
	ctx := context.Background()
	in := &cip.CreateUserPoolInput{PoolName: aws.String(testenv.Name("cfg")), Schema: []types.SchemaAttributeType{
		{Name: aws.String("tenant"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
		{Name: aws.String("legacy_sub"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
	}}
	if edit != nil {
		edit(in)
	}
	out, err := c.CreateUserPool(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.Pool{ID: aws.ToString(out.UserPool.Id)}
	t.Cleanup(func() { c.DeleteUserPool(context.Background(), &cip.DeleteUserPoolInput{UserPoolId: aws.String(p.ID)}) })
	cin := &cip.CreateUserPoolClientInput{UserPoolId: aws.String(p.ID), ClientName: aws.String("app"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth}}
	if client != nil {
		client(cin)
	}
	cl, err := c.CreateUserPoolClient(ctx, cin)
	if err != nil {
		t.Fatal(err)
	}
	p.ClientID = aws.ToString(cl.UserPoolClient.ClientId)
	return p
}

func adminOnly(in *cip.CreateUserPoolInput) {
	in.AdminCreateUserConfig = &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true}
}

func TestSignUpOnlyWhereSelfSignUpIsOpen(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	signUp := func(p testenv.Pool, name string) error {
		_, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(p.ClientID), Username: aws.String(name), Password: aws.String(pw),
			UserAttributes: testenv.Attrs("email", name+"@example.com")})
		return err
	}
	closed := configuredPool(t, c, adminOnly, nil)
	if err := signUp(closed, "mallory"); apiCode(err) != "NotAuthorizedException" {
		t.Fatalf("sign-up in an admin-create-only pool: %v, want NotAuthorizedException", err)
	}
	if out, _ := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(closed.ID)}); len(out.Users) != 0 {
		t.Fatalf("a refused sign-up left %d users", len(out.Users))
	}
	open := configuredPool(t, c, nil, nil)
	if err := signUp(open, "mallory"); err != nil {
		t.Fatalf("sign-up in an open pool: %v", err)
	}
	// Closing sign-up (the runbook's first step) takes effect at once.
	if _, err := c.UpdateUserPool(ctx, &cip.UpdateUserPoolInput{UserPoolId: aws.String(open.ID),
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true}}); err != nil {
		t.Fatal(err)
	}
	if err := signUp(open, "trudy"); apiCode(err) != "NotAuthorizedException" {
		t.Fatalf("sign-up after closing it: %v", err)
	}
}

func TestWriteAttributesBoundWhatUsersWrite(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	p := configuredPool(t, c, nil, func(in *cip.CreateUserPoolClientInput) {
		in.WriteAttributes = []string{"email", "given_name", "custom:tenant"}
	})
	_, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(p.ClientID), Username: aws.String("mallory"), Password: aws.String(pw),
		UserAttributes: testenv.Attrs("email", "m@example.com", "custom:legacy_sub", "an-old-sub")})
	if apiCode(err) != "NotAuthorizedException" {
		t.Fatalf("sign-up writing custom:legacy_sub: %v, want NotAuthorizedException", err)
	}
	testenv.CreateUser(t, c, p.ID, "ann", pw, testenv.Attrs("email", "ann@example.com")...)
	auth, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(p.ClientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "ann", "PASSWORD": pw}})
	if err != nil {
		t.Fatal(err)
	}
	token := auth.AuthenticationResult.AccessToken
	update := func(attrs ...string) error {
		_, err := c.UpdateUserAttributes(ctx, &cip.UpdateUserAttributesInput{AccessToken: token, UserAttributes: testenv.Attrs(attrs...)})
		return err
	}
	if err := update("custom:legacy_sub", "an-old-sub"); apiCode(err) != "NotAuthorizedException" {
		t.Fatalf("a user writing custom:legacy_sub: %v, want NotAuthorizedException", err)
	}
	if _, err := c.DeleteUserAttributes(ctx, &cip.DeleteUserAttributesInput{AccessToken: token, UserAttributeNames: []string{"custom:legacy_sub"}}); apiCode(err) != "NotAuthorizedException" {
		t.Fatalf("a user deleting custom:legacy_sub: %v", err)
	}
	if err := update("given_name", "Ann"); err != nil {
		t.Fatalf("a writable attribute: %v", err)
	}
	// A client without WriteAttributes writes anything here (see access.go).
	q := configuredPool(t, c, nil, nil)
	if _, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(q.ClientID), Username: aws.String("mallory"), Password: aws.String(pw),
		UserAttributes: testenv.Attrs("custom:legacy_sub", "an-old-sub")}); err != nil {
		t.Fatalf("client without WriteAttributes: %v", err)
	}
}

func TestCaseInsensitiveUsernames(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	p := configuredPool(t, c, func(in *cip.CreateUserPoolInput) {
		in.UsernameConfiguration = &types.UsernameConfigurationType{CaseSensitive: aws.Bool(false)}
	}, nil)
	c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(p.ID), GroupName: aws.String("admins")})
	testenv.CreateUser(t, c, p.ID, "Alice", pw)
	_, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(p.ID), Username: aws.String("alice"), MessageAction: types.MessageActionTypeSuppress})
	if apiCode(err) != "UsernameExistsException" {
		t.Fatalf("AdminCreateUser alice beside Alice: %v, want UsernameExistsException", err)
	}
	_, err = c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(p.ClientID), Username: aws.String("ALICE"), Password: aws.String(pw)})
	if apiCode(err) != "UsernameExistsException" {
		t.Fatalf("SignUp ALICE beside Alice: %v", err)
	}
	u, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(p.ID), Username: aws.String("aLiCe")})
	if err != nil || aws.ToString(u.Username) != "Alice" {
		t.Fatalf("AdminGetUser aLiCe: %v %v", u, err)
	}
	if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(p.ID), Username: aws.String("alice"), GroupName: aws.String("admins")}); err != nil {
		t.Fatalf("AdminAddUserToGroup alice: %v", err)
	}
	if _, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(p.ClientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "ALICE", "PASSWORD": pw}}); err != nil {
		t.Fatalf("sign in as ALICE: %v", err)
	}
	// A case-sensitive pool (the default) keeps them apart.
	q := configuredPool(t, c, nil, nil)
	testenv.CreateUser(t, c, q.ID, "Alice", pw)
	if _, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(q.ID), Username: aws.String("alice"), MessageAction: types.MessageActionTypeSuppress}); err != nil {
		t.Fatalf("case-sensitive pool: %v", err)
	}
}

func TestDroppedResponse(t *testing.T) {
	p := fidelity.New(fidelity.Options{Upstream: testenv.CognitoLocalURL(t)})
	srv := newServer(t, p)
	c := testenv.CognitoAt(t, srv)
	ctx := context.Background()
	pool := testenv.NewPool(t, c)
	// Armed over HTTP, as a test of another process would.
	body, _ := json.Marshal(fidelity.Fault{Op: "AdminCreateUser", Pool: pool.ID, Username: "ann"})
	resp, err := http.Post(srv+"/_proxy/faults", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("arm: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("ann"), MessageAction: types.MessageActionTypeSuppress})
	if err == nil {
		t.Fatal("the answer was to be dropped")
	}
	// The call took effect: the user is there, and a second try says so.
	if _, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("ann")}); err != nil {
		t.Fatalf("the dropped call did not write: %v", err)
	}
	_, err = c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("ann"), MessageAction: types.MessageActionTypeSuppress})
	if apiCode(err) != "UsernameExistsException" {
		t.Fatalf("second try: %v", err)
	}
	// Used up: the next create answers.
	if _, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("bob"), MessageAction: types.MessageActionTypeSuppress}); err != nil {
		t.Fatal(err)
	}
}

func newServer(t *testing.T, p *fidelity.Proxy) string {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestIdentitiesAreCognitos(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c)
	_, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("fed"), MessageAction: types.MessageActionTypeSuppress,
		UserAttributes: testenv.Attrs("identities", `[{"providerName":"Google","userId":"1"}]`)})
	if apiCode(err) != "InvalidParameterException" {
		t.Fatalf("AdminCreateUser with identities: %v, want InvalidParameterException", err)
	}
}

func TestPhoneUsernameInAnEmailOrPhonePool(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	p := configuredPool(t, c, func(in *cip.CreateUserPoolInput) {
		in.UsernameAttributes = []types.UsernameAttributeType{types.UsernameAttributeTypeEmail, types.UsernameAttributeTypePhoneNumber}
	}, nil)
	create := func(name string, attrs ...string) (*cip.AdminCreateUserOutput, error) {
		return c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(p.ID), Username: aws.String(name),
			MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs(attrs...)})
	}
	out, err := create("+15555550100", "custom:tenant", "t1")
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{}
	for _, a := range out.User.Attributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	if attrs["phone_number"] != "+15555550100" || attrs["email"] != "" || attrs["sub"] == "" || aws.ToString(out.User.Username) != attrs["sub"] ||
		out.User.UserStatus != types.UserStatusTypeForceChangePassword {
		t.Fatalf("created by phone: %s %v %s", aws.ToString(out.User.Username), attrs, out.User.UserStatus)
	}
	if u, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(p.ID), Username: aws.String("+15555550100")}); err != nil || aws.ToString(u.Username) != attrs["sub"] {
		t.Fatalf("by phone: %v %v", u, err)
	}
	if _, err := create("+15555550100"); apiCode(err) != "UsernameExistsException" {
		t.Fatalf("the same phone again: %v", err)
	}
	if _, err := create("ann@example.com"); err != nil {
		t.Fatalf("by email: %v", err)
	}
}
