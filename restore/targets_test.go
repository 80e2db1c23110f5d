package restore_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/internal/testenv"
)

// poolOpt shapes a target pool made by newTarget.
type poolOpt func(*cip.CreateUserPoolInput, *cip.CreateUserPoolClientInput)

// openSignUp: users may sign themselves up (AWS's default; targets made by
// newTarget are admin-create-only unless told otherwise).
func openSignUp(in *cip.CreateUserPoolInput, _ *cip.CreateUserPoolClientInput) {
	in.AdminCreateUserConfig = &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: false}
}

// caseInsensitive: usernames (and sign-in emails) match in any case.
func caseInsensitive(in *cip.CreateUserPoolInput, _ *cip.CreateUserPoolClientInput) {
	in.UsernameConfiguration = &types.UsernameConfigurationType{CaseSensitive: aws.Bool(false)}
}

// signInWith: users sign in with these attributes (Cognito generates usernames).
func signInWith(attrs ...types.UsernameAttributeType) poolOpt {
	return func(in *cip.CreateUserPoolInput, _ *cip.CreateUserPoolClientInput) { in.UsernameAttributes = attrs }
}

// recovery sets AccountRecoverySetting.
func recovery(names ...types.RecoveryOptionNameType) poolOpt {
	return func(in *cip.CreateUserPoolInput, _ *cip.CreateUserPoolClientInput) {
		var opts []types.RecoveryOptionType
		for i, n := range names {
			opts = append(opts, types.RecoveryOptionType{Name: n, Priority: aws.Int32(int32(i + 1))})
		}
		in.AccountRecoverySetting = &types.AccountRecoverySettingType{RecoveryMechanisms: opts}
	}
}

// clientWrites sets the app client's WriteAttributes (nil: none set, the
// client writes everything).
func clientWrites(attrs ...string) poolOpt {
	return func(_ *cip.CreateUserPoolInput, c *cip.CreateUserPoolClientInput) { c.WriteAttributes = attrs }
}

// newTarget creates a target pool as the identity stack does: only
// administrators create users, custom:tenant and custom:legacy_sub, an app
// client whose users write only email and given_name; the options change
// it. Groups are created in the order given. It is deleted after the test.
func newTarget(t testing.TB, c *cip.Client, opts []poolOpt, groups ...string) testenv.Pool {
	t.Helper()
	ctx := context.Background()
	in := &cip.CreateUserPoolInput{PoolName: aws.String(testenv.Name("target")),
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true},
		Schema: []types.SchemaAttributeType{
			{Name: aws.String("tenant"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
			{Name: aws.String("legacy_sub"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
		}}
	cin := &cip.CreateUserPoolClientInput{ClientName: aws.String("app"), WriteAttributes: []string{"email", "given_name"},
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth,
			types.ExplicitAuthFlowsTypeAllowAdminUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth}}
	for _, o := range opts {
		o(in, cin)
	}
	out, err := c.CreateUserPool(ctx, in)
	if err != nil {
		t.Fatalf("create target pool: %v", err)
	}
	p := testenv.Pool{ID: aws.ToString(out.UserPool.Id)}
	t.Cleanup(func() {
		_, _ = c.DeleteUserPool(context.Background(), &cip.DeleteUserPoolInput{UserPoolId: aws.String(p.ID)})
	})
	cin.UserPoolId = aws.String(p.ID)
	cl, err := c.CreateUserPoolClient(ctx, cin)
	if err != nil {
		t.Fatalf("create app client: %v", err)
	}
	p.ClientID = aws.ToString(cl.UserPoolClient.ClientId)
	for i, g := range groups {
		if _, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(p.ID), GroupName: aws.String(g), Precedence: aws.Int32(int32(i + 1))}); err != nil {
			t.Fatalf("create group %s: %v", g, err)
		}
	}
	return p
}

// target is newTarget with the env's direct client.
func (e *env) target(opts ...poolOpt) testenv.Pool {
	e.t.Helper()
	return newTarget(e.t, e.direct, opts)
}

// closeSignUp makes a pool admin-create-only (the runbook's first step when
// restoring into a live pool).
func (e *env) closeSignUp(pool string) {
	e.t.Helper()
	if _, err := e.direct.UpdateUserPool(context.Background(), &cip.UpdateUserPoolInput{UserPoolId: aws.String(pool),
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true}}); err != nil {
		e.t.Fatalf("close sign-up: %v", err)
	}
}
