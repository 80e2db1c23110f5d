package cognito_test

import (
	"testing"

	"github.com/idmirror/idmirror/cognito"
)

// What AWS's page "Quotas in Amazon Cognito" says, transcribed by hand on
// 2026-11-29 — kept apart from cognito/quota.go on purpose, so a wrong entry
// there cannot hide behind a shared table.
//
// Sources, as read that day:
//   - https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html
//     (current page; the stored copy reachable held its opening sections
//     only): UserCreation is SignUp, ConfirmSignUp, AdminCreateUser and
//     AdminConfirmSignUp at a combined 50 RPS; quotas are per account and
//     Region.
//   - The same page as published in awsdocs/amazon-cognito-developer-guide,
//     doc_source/limits.md (commit 0b4d5467ecf06a602c89f6c91b5eabe3d89e9d73;
//     https://docs.aws.amazon.com/cognito/latest/developerguide/limits.html):
//     the "Category operations" table (category, default RPS, adjustable,
//     the asterisk of the 5 RPS per-pool cap), the UserAuthentication
//     operations, and the per-user quotas.
//   - https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UpdateProvisionedLimit.html:
//     managed-login pools cannot raise UserAuthentication or UserFederation
//     through provisioned limits (Service Quotas only).
//
// Where these copies are silent: the per-category operation lists of the
// current page (the table's "Operations" column renders as a link in the
// archived copy and was cut from the stored copy of the current one), so
// only UserCreation's and UserAuthentication's operations are pinned here;
// the ClientAuthentication (150 RPS in DESIGN.md §4) and LimitManagement
// categories; whether RespondToAuthChallenge with NEW_PASSWORD_REQUIRED
// counts toward UserAccountRecovery. Add them when a full copy of the page
// is read.
var awsQuotaPage = []struct {
	category   cognito.Category
	rps        float64
	adjustable bool
	perPoolCap bool // "*Any individual operation in this category ... higher than 5 RPS for a single user pool."
	operations []string
}{
	{cognito.UserAuthentication, 120, true, false, []string{"AdminInitiateAuth", "InitiateAuth", "AdminRespondToAuthChallenge", "RespondToAuthChallenge"}},
	{cognito.UserCreation, 50, true, false, []string{"SignUp", "ConfirmSignUp", "AdminCreateUser", "AdminConfirmSignUp"}},
	{cognito.UserFederation, 25, true, false, nil},
	{cognito.UserAccountRecovery, 30, false, false, nil},
	{cognito.UserRead, 120, true, false, nil},
	{cognito.UserUpdate, 25, false, false, nil},
	{cognito.UserResourceRead, 50, true, false, nil},
	{cognito.UserResourceUpdate, 25, false, false, nil},
	{cognito.UserList, 30, false, false, nil},
	{cognito.UserPoolRead, 15, false, false, nil},
	{cognito.UserPoolUpdate, 15, false, false, nil},
	{cognito.UserPoolResourceRead, 20, false, true, nil},
	{cognito.UserPoolResourceUpdate, 15, false, true, nil},
	{cognito.UserPoolClientRead, 15, false, true, nil},
	{cognito.UserPoolClientUpdate, 15, false, true, nil},
	{cognito.UserToken, 120, false, false, nil},
}

func TestQuotaTableMatchesAWSPage(t *testing.T) {
	seen := map[cognito.Category]bool{}
	for _, row := range awsQuotaPage {
		seen[row.category] = true
		if got := cognito.DefaultRates[row.category]; got != row.rps {
			t.Errorf("%s: default %v RPS, the page says %v", row.category, got, row.rps)
		}
		if got := cognito.Adjustable(row.category); got != row.adjustable {
			t.Errorf("%s: adjustable %v, the page says %v", row.category, got, row.adjustable)
		}
		if got := cognito.PerPoolCapped(row.category); got != row.perPoolCap {
			t.Errorf("%s: per-pool cap %v, the page says %v", row.category, got, row.perPoolCap)
		}
		for _, op := range row.operations {
			if got := cognito.CategoryOf(op); got != row.category {
				t.Errorf("%s is %s, the page says %s", op, got, row.category)
			}
		}
	}
	if cognito.PerPoolOperationRate != 5 {
		t.Errorf("per-pool cap %v RPS, the page says 5", cognito.PerPoolOperationRate)
	}
	// Categories the product rates that the copies we read do not: named
	// here so that a new one is a decision, not an accident.
	notOnPage := map[cognito.Category]bool{cognito.ClientAuthentication: true, cognito.LimitManagement: true, cognito.Uncategorized: true}
	for c := range cognito.DefaultRates {
		if !seen[c] && !notOnPage[c] {
			t.Errorf("the product rates %s, which the page does not list", c)
		}
	}
}

// "For each user, you can make up to ten requests per second that are "read"
// operations including signing in or getting profile or device information.
// You can also make up to ten requests per second that are "write"
// operations, including updating profile information or MFA settings. You
// can't change per-user quotas." (the archived page, under "Category
// operations").
func TestPerUserQuotaMatchesAWSPage(t *testing.T) {
	if cognito.PerUserRate != 10 {
		t.Errorf("PerUserRate = %v, the page says 10 reads and 10 writes a second", cognito.PerUserRate)
	}
	for op, want := range map[string]cognito.Access{
		"AdminInitiateAuth": cognito.UserReadAccess, "InitiateAuth": cognito.UserReadAccess, // signing in
		"AdminGetUser": cognito.UserReadAccess, "GetUser": cognito.UserReadAccess, // profile
		"AdminGetDevice": cognito.UserReadAccess, "AdminListDevices": cognito.UserReadAccess, // device information
		"AdminUpdateUserAttributes": cognito.UserWriteAccess, "UpdateUserAttributes": cognito.UserWriteAccess, // profile
		"AdminSetUserMFAPreference": cognito.UserWriteAccess, "SetUserMFAPreference": cognito.UserWriteAccess, // MFA settings
	} {
		if got := cognito.UserAccess(op); got != want {
			t.Errorf("UserAccess(%s) = %v, the page counts it as %v", op, got, want)
		}
	}
}
