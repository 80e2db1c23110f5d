package cognito_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/internal/testenv"
)

// Describe reports self sign-up, username case sensitivity and account
// recovery; a pool created without them is open, case sensitive, legacy
// recovery. DeleteAttributes and ClientWriteAttributes reach Cognito.
func TestRestoreCallsOnTheLocalStack(t *testing.T) {
	direct := testenv.CognitoDirect(t)
	adapter := testenv.PacedPool(t, testenv.Proxy(t, 0), 1)
	ctx := context.Background()
	out, err := direct.CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String(testenv.Name("cfg")),
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true},
		UsernameConfiguration: &types.UsernameConfigurationType{CaseSensitive: aws.Bool(false)},
		AccountRecoverySetting: &types.AccountRecoverySettingType{RecoveryMechanisms: []types.RecoveryOptionType{
			{Name: types.RecoveryOptionNameTypeVerifiedPhoneNumber, Priority: aws.Int32(2)},
			{Name: types.RecoveryOptionNameTypeVerifiedEmail, Priority: aws.Int32(1)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.UserPool.Id)
	t.Cleanup(func() {
		direct.DeleteUserPool(context.Background(), &cip.DeleteUserPoolInput{UserPoolId: aws.String(id)})
	})
	cfg, err := adapter.Describe(ctx, id)
	if err != nil || !cfg.AdminCreateOnly || cfg.CaseSensitive == nil || *cfg.CaseSensitive || cfg.UsernamesCaseSensitive() ||
		fmt.Sprint(cfg.AccountRecovery) != "[verified_email verified_phone_number]" {
		t.Fatalf("configured pool: %+v %v", cfg, err)
	}
	plain := testenv.NewPool(t, direct)
	cfg, err = adapter.Describe(ctx, plain.ID)
	if err != nil || cfg.AdminCreateOnly || cfg.CaseSensitive != nil || !cfg.UsernamesCaseSensitive() || cfg.AccountRecovery != nil {
		t.Fatalf("pool without the settings: %+v %v", cfg, err)
	}

	if _, err := direct.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{UserPoolId: aws.String(plain.ID), ClientName: aws.String("pinned"),
		WriteAttributes: []string{"email", "given_name"}}); err != nil {
		t.Fatal(err)
	}
	clients, err := adapter.ClientWriteAttributes(ctx, plain.ID)
	if err != nil || len(clients) != 2 {
		t.Fatalf("clients: %v %v", clients, err)
	}
	if w := clients[plain.ClientID]; len(w) != 0 {
		t.Fatalf("the client without WriteAttributes: %v", w)
	}
	pinned := 0
	for _, w := range clients {
		if fmt.Sprint(w) == "[email given_name]" {
			pinned++
		}
	}
	if pinned != 1 {
		t.Fatalf("the pinned client: %v", clients)
	}

	testenv.CreateUser(t, direct, plain.ID, "ann", "Passw0rd!long", testenv.Attrs("email", "ann@example.com", "custom:tenant", "t9")...)
	if err := adapter.DeleteAttributes(ctx, plain.ID, "ann", []string{"custom:tenant"}); err != nil {
		t.Fatal(err)
	}
	u, err := adapter.GetUser(ctx, plain.ID, "ann")
	if _, has := u.Attributes["custom:tenant"]; err != nil || has || u.Attributes["email"] != "ann@example.com" {
		t.Fatalf("after DeleteAttributes: %+v %v", u.Attributes, err)
	}
}
