package cognito

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
)

// signUpAndRecovery fills what restore's preflight checks of a pool, from
// DescribeUserPool:
//   - AdminCreateOnly: AdminCreateUserConfig.AllowAdminCreateUserOnly, "Set to
//     True if only the administrator is allowed to create user profiles. Set
//     to False if users can sign themselves up via an app"; a pool without
//     AdminCreateUserConfig lets users sign up
//     (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminCreateUserConfigType.html).
//   - CaseSensitive: UsernameConfiguration.CaseSensitive. Case sensitive
//     (true) "is the default value": a pool described without
//     UsernameConfiguration (created before the setting existed, or without
//     it) is case sensitive, which idmirror.PoolConfig's nil means; false
//     makes usernames, preferred_username and the email alias match in any
//     case (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UsernameConfigurationType.html).
//   - AccountRecovery: AccountRecoverySetting.RecoveryMechanisms by priority
//     (verified_email, verified_phone_number, admin_only); none set means
//     Cognito's legacy choice, a verified phone before a verified email
//     (https://docs.aws.amazon.com/cognito/latest/developerguide/how-to-recover-a-user-account.html).
func signUpAndRecovery(cfg *idmirror.PoolConfig, up *types.UserPoolType) {
	if c := up.AdminCreateUserConfig; c != nil {
		cfg.AdminCreateOnly = c.AllowAdminCreateUserOnly
	}
	if u := up.UsernameConfiguration; u != nil && u.CaseSensitive != nil {
		v := *u.CaseSensitive
		cfg.CaseSensitive = &v
	}
	if r := up.AccountRecoverySetting; r != nil {
		opts := append([]types.RecoveryOptionType(nil), r.RecoveryMechanisms...)
		sort.SliceStable(opts, func(i, j int) bool { return aws.ToInt32(opts[i].Priority) < aws.ToInt32(opts[j].Priority) })
		for _, o := range opts {
			cfg.AccountRecovery = append(cfg.AccountRecovery, string(o.Name))
		}
	}
}

// DeleteAttributes removes attributes of a user (AdminDeleteUserAttributes).
func (p *Pool) DeleteAttributes(ctx context.Context, poolID, username string, names []string) error {
	_, err := p.api.AdminDeleteUserAttributes(ctx, &cip.AdminDeleteUserAttributesInput{UserPoolId: aws.String(poolID), Username: aws.String(username),
		UserAttributeNames: names}, p.paced(poolID, nil))
	return translate("AdminDeleteUserAttributes", err)
}

// ClientWriteAttributes returns each app client of the pool (by id) with the
// attributes its users may write themselves (SignUp, UpdateUserAttributes).
// An empty list is a client without WriteAttributes: AWS documents that it
// writes the pool's standard attributes and that DescribeUserPoolClient then
// returns none ("Amazon Cognito only populates WriteAttributes in the API
// response if you have specified your own custom set of write attributes",
// https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolClientType.html);
// callers that need a guarantee treat it as writing everything.
func (p *Pool) ClientWriteAttributes(ctx context.Context, poolID string) (map[string][]string, error) {
	out := map[string][]string{}
	pages := cip.NewListUserPoolClientsPaginator(p.api, &cip.ListUserPoolClientsInput{UserPoolId: aws.String(poolID), MaxResults: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, p.paced(poolID, nil))
		if err != nil {
			return nil, translate("ListUserPoolClients", err)
		}
		for _, c := range page.UserPoolClients {
			id := aws.ToString(c.ClientId)
			d, err := p.api.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: aws.String(poolID), ClientId: aws.String(id)}, p.paced(poolID, nil))
			if err != nil {
				return nil, translate("DescribeUserPoolClient", err)
			}
			out[id] = append([]string{}, d.UserPoolClient.WriteAttributes...)
		}
	}
	return out, nil
}
