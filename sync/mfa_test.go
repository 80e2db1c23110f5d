package sync_test

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/testenv"
)

func attrs(kv ...string) []types.AttributeType { return testenv.Attrs(kv...) }

// setSMSMFA turns SMS MFA on through the proxy (cognito-local lacks the call).
func setSMSMFA(e *env, user string) error {
	c := cognito.NewClient(testenv.Config(e.t))
	_, err := c.AdminSetUserMFAPreference(context.Background(), &cip.AdminSetUserMFAPreferenceInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String(user),
		SMSMfaSettings: &types.SMSMfaSettingsType{Enabled: true, PreferredMfa: true}})
	return err
}
