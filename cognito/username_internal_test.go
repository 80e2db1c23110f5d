package cognito

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
)

func TestUsernameOfInput(t *testing.T) {
	for in, want := range map[any]string{
		&cip.AdminAddUserToGroupInput{Username: aws.String("bob")}: "bob",
		&cip.AdminGetUserInput{}:                                   "",
		&cip.ListUsersInput{}:                                      "",
		"not an input":                                             "",
	} {
		if got := username(in); got != want {
			t.Errorf("username(%T) = %q, want %q", in, got, want)
		}
	}
	if got := username((*cip.AdminGetUserInput)(nil)); got != "" {
		t.Errorf("nil input: %q", got)
	}
}
