package aws_test

import (
	"testing"

	"github.com/idmirror/idmirror/drill"
)

// Review B: the drill role may cognito-idp:TagResource any user pool of the
// account (Resource userpool/*) as long as the request sets
// idmirror:drill=true; only its own stack's UserPool is denied. Tagging is
// what every other grant of the role keys on (aws:ResourceTag), so the role
// can put the drill tag on another pool of the account — another stack's
// production pool — and then DeleteUserPool it, or AdminCreateUser and
// AdminAddUserToGroup an admin into it. TagResource must itself require the
// resource to carry the tag already (or not be granted: creating with
// UserPoolTags is CreateUserPool's, under aws:RequestTag).
func TestReviewBDrillRoleCannotTagForeignPools(t *testing.T) {
	tpl := load(t, "identity.yaml")
	resTag := "aws:ResourceTag/" + drill.TagKey
	for _, st := range statements(tpl)["DrillRole"] {
		if st.get("Effect").str() != "Allow" {
			continue
		}
		for _, a := range st.get("Action").items() {
			if a.str() != "cognito-idp:TagResource" {
				continue
			}
			if st.get("Condition", "StringEquals").get(resTag).str() != drill.TagValue {
				t.Errorf("the drill role may TagResource a pool that does not carry %s=%s yet: it can make any pool of the account a scratch pool it may delete", drill.TagKey, drill.TagValue)
			}
		}
	}
}
