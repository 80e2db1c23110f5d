package cognito_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
)

func TestCreatePoolInputFromAMirroredConfiguration(t *testing.T) {
	no := false
	cfg := idmirror.PoolConfig{Name: "prod", UsernameAttributes: []string{"email"}, CaseSensitive: &no, MFA: "OPTIONAL",
		AccountRecovery: []string{"verified_email", "admin_only"}, AutoVerified: []string{"email"},
		PasswordPolicy: &idmirror.PasswordPolicy{MinLength: 12, RequireSymbols: true, TemporaryPasswordValidityDays: 3},
		Schema: []idmirror.SchemaAttribute{{Name: "sub", DataType: "String", Required: true}, {Name: "email", DataType: "String", Mutable: true, Required: true},
			{Name: "name", DataType: "String", Mutable: true}, {Name: "custom:tenant", DataType: "String"}}}
	in, notes := cognito.CreatePoolInput(cognito.NewPoolSpec{Name: "copy", Config: cfg, Tags: map[string]string{"k": "v"}})
	var schema []string
	for _, a := range in.Schema {
		schema = append(schema, aws.ToString(a.Name))
	}
	switch {
	case strings.Join(schema, ",") != "email,tenant":
		t.Fatalf("schema %v: want the required standard one and the custom one, bare", schema)
	case aws.ToBool(in.Schema[1].Mutable):
		t.Fatal("custom:tenant is immutable")
	case in.AdminCreateUserConfig.AllowAdminCreateUserOnly:
		t.Fatal("the source lets users sign up")
	case aws.ToBool(in.UsernameConfiguration.CaseSensitive) || in.UsernameAttributes[0] != types.UsernameAttributeTypeEmail:
		t.Fatal("username settings")
	case aws.ToInt32(in.Policies.PasswordPolicy.MinimumLength) != 12 || !in.Policies.PasswordPolicy.RequireSymbols:
		t.Fatal("password policy")
	case aws.ToInt32(in.AccountRecoverySetting.RecoveryMechanisms[1].Priority) != 2:
		t.Fatal("recovery priorities")
	case in.MfaConfiguration != "" || len(notes) != 2:
		// No SMS role recorded: created with MFA off, and said so; the feature plan is not recorded.
		t.Fatalf("mfa %q, notes %v", in.MfaConfiguration, notes)
	}
	cfg.SMSRoleArn = "arn:aws:iam::123456789012:role/sms"
	in, _ = cognito.CreatePoolInput(cognito.NewPoolSpec{Name: "scratch", Config: cfg, Scratch: true})
	if in.MfaConfiguration != types.UserPoolMfaTypeOptional || aws.ToString(in.SmsConfiguration.SnsCallerArn) != cfg.SMSRoleArn ||
		!in.AdminCreateUserConfig.AllowAdminCreateUserOnly || in.DeletionProtection != types.DeletionProtectionTypeInactive {
		t.Fatalf("scratch input %+v", in)
	}
}
