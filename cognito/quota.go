package cognito

import "strings"

// Category is a Cognito request-rate quota category. Quotas are per account
// and Region, shared with production traffic.
type Category string

// The categories of AWS's quota page ("Amazon Cognito user pools API
// operation categories and request rate quotas").
const (
	UserAuthentication     Category = "UserAuthentication"
	UserCreation           Category = "UserCreation"
	UserFederation         Category = "UserFederation"
	UserAccountRecovery    Category = "UserAccountRecovery"
	UserRead               Category = "UserRead"
	UserUpdate             Category = "UserUpdate"
	UserToken              Category = "UserToken"
	UserResourceRead       Category = "UserResourceRead"
	UserResourceUpdate     Category = "UserResourceUpdate"
	UserList               Category = "UserList"
	UserPoolRead           Category = "UserPoolRead"
	UserPoolUpdate         Category = "UserPoolUpdate"
	UserPoolResourceRead   Category = "UserPoolResourceRead"
	UserPoolResourceUpdate Category = "UserPoolResourceUpdate"
	UserPoolClientRead     Category = "UserPoolClientRead"
	UserPoolClientUpdate   Category = "UserPoolClientUpdate"
	ClientAuthentication   Category = "ClientAuthentication"
	// Uncategorized: an operation this table does not list. Pacers treat it
	// like the most constrained category.
	Uncategorized Category = "Uncategorized"
)

// DefaultRates is each category's default quota in requests per second.
var DefaultRates = map[Category]float64{
	UserAuthentication: 120, UserCreation: 50, UserFederation: 25, UserAccountRecovery: 30,
	UserRead: 120, UserUpdate: 25, UserToken: 120, UserResourceRead: 50, UserResourceUpdate: 25,
	UserList: 30, UserPoolRead: 15, UserPoolUpdate: 15, UserPoolResourceRead: 20,
	UserPoolResourceUpdate: 15, UserPoolClientRead: 15, UserPoolClientUpdate: 15,
	ClientAuthentication: 150, Uncategorized: 5,
}

// PerPoolOperationRate is the extra cap on each operation of the
// UserPoolResource* and UserPoolClient* categories, per user pool.
const PerPoolOperationRate = 5

// PerUserRate caps reads and writes of one user, each, per second.
const PerUserRate = 10

// operations maps each user-pool API operation to its category.
var operations = map[string]Category{}

func init() {
	for cat, ops := range map[Category]string{
		UserAuthentication: "AdminInitiateAuth AdminRespondToAuthChallenge InitiateAuth RespondToAuthChallenge",
		UserCreation:       "AdminConfirmSignUp AdminCreateUser ConfirmSignUp SignUp",
		UserAccountRecovery: "AdminResetUserPassword AdminSetUserPassword ChangePassword ConfirmForgotPassword " +
			"ForgotPassword",
		UserRead: "AdminGetUser GetUser GetUserAuthFactors AdminGetUserAuthFactors",
		UserUpdate: "AdminDeleteUser AdminDeleteUserAttributes AdminDisableProviderForUser AdminDisableUser " +
			"AdminEnableUser AdminLinkProviderForUser AdminSetUserMFAPreference AdminSetUserSettings " +
			"AdminUpdateUserAttributes AdminUserGlobalSignOut DeleteUser DeleteUserAttributes " +
			"GetUserAttributeVerificationCode ResendConfirmationCode SetUserMFAPreference SetUserSettings " +
			"UpdateUserAttributes VerifyUserAttribute",
		UserToken: "GetTokensFromRefreshToken GlobalSignOut RevokeToken",
		UserResourceRead: "AdminGetDevice AdminListDevices AdminListGroupsForUser AdminListUserAuthEvents " +
			"GetDevice ListDevices ListWebAuthnCredentials",
		UserResourceUpdate: "AdminAddUserToGroup AdminForgetDevice AdminRemoveUserFromGroup " +
			"AdminUpdateAuthEventFeedback AdminUpdateDeviceStatus AssociateSoftwareToken ConfirmDevice " +
			"ForgetDevice UpdateAuthEventFeedback UpdateDeviceStatus VerifySoftwareToken " +
			"StartWebAuthnRegistration CompleteWebAuthnRegistration DeleteWebAuthnCredential",
		UserList:     "ListUsers ListUsersInGroup",
		UserPoolRead: "DescribeUserPool ListUserPools GetUserPoolMfaConfig DescribeUserPoolDomain",
		UserPoolUpdate: "AddCustomAttributes CreateUserPool DeleteUserPool SetUserPoolMfaConfig UpdateUserPool " +
			"CreateUserPoolDomain DeleteUserPoolDomain UpdateUserPoolDomain",
		UserPoolResourceRead: "DescribeIdentityProvider DescribeResourceServer DescribeRiskConfiguration " +
			"DescribeUserImportJob GetCSVHeader GetGroup GetIdentityProviderByIdentifier GetLogDeliveryConfiguration " +
			"GetSigningCertificate GetUICustomization ListGroups ListIdentityProviders ListResourceServers " +
			"ListTagsForResource ListUserImportJobs",
		UserPoolResourceUpdate: "CreateGroup CreateIdentityProvider CreateResourceServer CreateUserImportJob " +
			"DeleteGroup DeleteIdentityProvider DeleteResourceServer SetLogDeliveryConfiguration " +
			"SetRiskConfiguration SetUICustomization StartUserImportJob StopUserImportJob TagResource " +
			"UntagResource UpdateGroup UpdateIdentityProvider UpdateResourceServer",
		UserPoolClientRead:   "DescribeUserPoolClient ListUserPoolClients",
		UserPoolClientUpdate: "CreateUserPoolClient DeleteUserPoolClient UpdateUserPoolClient",
	} {
		for _, op := range strings.Fields(ops) {
			operations[op] = cat
		}
	}
}

// CategoryOf returns the quota category of an operation ("ListUsers").
func CategoryOf(operation string) Category {
	if c, ok := operations[operation]; ok {
		return c
	}
	return Uncategorized
}

// PerPoolCapped reports whether each operation of the category is also
// capped at PerPoolOperationRate per user pool.
func PerPoolCapped(c Category) bool {
	return strings.HasPrefix(string(c), "UserPoolResource") || strings.HasPrefix(string(c), "UserPoolClient")
}
