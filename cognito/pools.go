package cognito

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"

	"github.com/idmirror/idmirror"
)

// PoolAdminAPI is the part of the Cognito client that makes, finds and
// deletes user pools (idmirror pool create, idmirror drill). It is apart
// from API so that the adapters of the functions that never make a pool
// need not carry it; *cip.Client has both.
type PoolAdminAPI interface {
	CreateUserPool(context.Context, *cip.CreateUserPoolInput, ...func(*cip.Options)) (*cip.CreateUserPoolOutput, error)
	DeleteUserPool(context.Context, *cip.DeleteUserPoolInput, ...func(*cip.Options)) (*cip.DeleteUserPoolOutput, error)
	ListUserPools(context.Context, *cip.ListUserPoolsInput, ...func(*cip.Options)) (*cip.ListUserPoolsOutput, error)
}

// recordPolicies fills the configuration idmirror records for `pool create`
// from DescribeUserPool (UserPoolType): the password policy, the attributes
// Cognito verifies, the SMS role (SmsConfiguration: SMS MFA needs it),
// deletion protection and the feature plan
// (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolType.html).
func recordPolicies(cfg *idmirror.PoolConfig, up *types.UserPoolType) {
	if pp := up.Policies; pp != nil && pp.PasswordPolicy != nil {
		p := pp.PasswordPolicy
		cfg.PasswordPolicy = &idmirror.PasswordPolicy{MinLength: aws.ToInt32(p.MinimumLength), RequireUppercase: p.RequireUppercase,
			RequireLowercase: p.RequireLowercase, RequireNumbers: p.RequireNumbers, RequireSymbols: p.RequireSymbols,
			TemporaryPasswordValidityDays: p.TemporaryPasswordValidityDays, PasswordHistorySize: aws.ToInt32(p.PasswordHistorySize)}
	}
	for _, a := range up.AutoVerifiedAttributes {
		cfg.AutoVerified = append(cfg.AutoVerified, string(a))
	}
	if s := up.SmsConfiguration; s != nil {
		cfg.SMSRoleArn, cfg.SMSExternalID, cfg.SMSRegion = aws.ToString(s.SnsCallerArn), aws.ToString(s.ExternalId), aws.ToString(s.SnsRegion)
	}
	cfg.DeletionProtection, cfg.Tier = string(up.DeletionProtection), string(up.UserPoolTier)
}

// NewPoolSpec says how CreateUserPool makes a pool from a mirrored configuration.
type NewPoolSpec struct {
	Name   string
	Config idmirror.PoolConfig
	Tags   map[string]string
	// Scratch makes a throwaway pool (a drill's): only administrators
	// create users whatever the source allows, no deletion protection, the
	// default feature plan.
	Scratch bool
}

// NotRecreated lists what CreateUserPool never carries over from a pool: what
// the mirror does not record. Printed by `idmirror pool create` and `drill`.
var NotRecreated = []string{
	"domains (hosted UI / managed login, custom domains and their certificates)",
	"app clients and their secrets, callback URLs, OAuth scopes and token validities",
	"Lambda triggers (LambdaConfig): redeploy the identity stack, or attach them",
	"identity providers, resource servers, UI customisation and branding",
	"email configuration (SES) and message templates; threat protection; log delivery",
	"TOTP (software token) MFA enablement, which DescribeUserPool does not report: set it with SetUserPoolMfaConfig",
	"string and number constraints of custom attributes",
}

// NotStoredLocally lists what cognito-local (the local stack) accepts in
// CreateUserPool but does not keep.
var NotStoredLocally = []string{"the feature plan (UserPoolTier)", "deletion protection"}

// CreatePoolInput builds CreateUserPool's input from a mirrored
// configuration, and says what of it cannot be carried over. Custom
// attributes go without their "custom:" prefix (CreateUserPool's Schema
// names them bare; Cognito adds it); standard attributes only where they
// differ from a standard attribute's defaults (required, or immutable); sub
// is Cognito's.
func CreatePoolInput(spec NewPoolSpec) (*cip.CreateUserPoolInput, []string) {
	cfg := spec.Config
	var notes []string
	in := &cip.CreateUserPoolInput{PoolName: aws.String(spec.Name), UserPoolTags: spec.Tags,
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: cfg.AdminCreateOnly || spec.Scratch}}
	for _, a := range cfg.Schema {
		switch {
		case a.Name == "sub":
			continue
		case strings.HasPrefix(a.Name, "custom:"):
			in.Schema = append(in.Schema, types.SchemaAttributeType{Name: aws.String(strings.TrimPrefix(a.Name, "custom:")),
				AttributeDataType: types.AttributeDataType(nonEmptyOr(a.DataType, "String")), Mutable: aws.Bool(a.Mutable)})
		case a.Required || !a.Mutable:
			in.Schema = append(in.Schema, types.SchemaAttributeType{Name: aws.String(a.Name),
				AttributeDataType: types.AttributeDataType(nonEmptyOr(a.DataType, "String")), Mutable: aws.Bool(a.Mutable), Required: aws.Bool(a.Required)})
		}
	}
	for _, a := range cfg.UsernameAttributes {
		in.UsernameAttributes = append(in.UsernameAttributes, types.UsernameAttributeType(a))
	}
	for _, a := range cfg.AliasAttributes {
		in.AliasAttributes = append(in.AliasAttributes, types.AliasAttributeType(a))
	}
	if cfg.CaseSensitive != nil {
		in.UsernameConfiguration = &types.UsernameConfigurationType{CaseSensitive: aws.Bool(*cfg.CaseSensitive)}
	}
	for _, a := range cfg.AutoVerified {
		in.AutoVerifiedAttributes = append(in.AutoVerifiedAttributes, types.VerifiedAttributeType(a))
	}
	if p := cfg.PasswordPolicy; p != nil {
		pp := &types.PasswordPolicyType{RequireUppercase: p.RequireUppercase, RequireLowercase: p.RequireLowercase,
			RequireNumbers: p.RequireNumbers, RequireSymbols: p.RequireSymbols, TemporaryPasswordValidityDays: p.TemporaryPasswordValidityDays}
		if p.MinLength > 0 {
			pp.MinimumLength = aws.Int32(p.MinLength)
		}
		if p.PasswordHistorySize > 0 {
			pp.PasswordHistorySize = aws.Int32(p.PasswordHistorySize)
		}
		in.Policies = &types.UserPoolPolicyType{PasswordPolicy: pp}
	} else {
		notes = append(notes, "password policy: not recorded yet (a sync after the upgrade records it); Cognito's default applies")
	}
	if len(cfg.AccountRecovery) > 0 {
		r := &types.AccountRecoverySettingType{}
		for i, m := range cfg.AccountRecovery {
			r.RecoveryMechanisms = append(r.RecoveryMechanisms, types.RecoveryOptionType{Name: types.RecoveryOptionNameType(m), Priority: aws.Int32(int32(i + 1))})
		}
		in.AccountRecoverySetting = r
	}
	if cfg.SMSRoleArn != "" {
		in.SmsConfiguration = &types.SmsConfigurationType{SnsCallerArn: aws.String(cfg.SMSRoleArn), ExternalId: nonEmpty(cfg.SMSExternalID), SnsRegion: nonEmpty(cfg.SMSRegion)}
	}
	switch mfa := cfg.MFA; {
	case mfa == "" || mfa == string(types.UserPoolMfaTypeOff):
	case cfg.SMSRoleArn != "":
		in.MfaConfiguration = types.UserPoolMfaType(mfa)
	default:
		notes = append(notes, fmt.Sprintf("MFA %s: the pool is created with MFA OFF, as no SMS role is recorded and TOTP enablement is not; "+
			"set it with SetUserPoolMfaConfig (users' SMS MFA preferences are restored all the same)", mfa))
	}
	switch {
	case spec.Scratch:
		in.DeletionProtection = types.DeletionProtectionTypeInactive
	case cfg.DeletionProtection != "":
		in.DeletionProtection = types.DeletionProtectionType(cfg.DeletionProtection)
	}
	switch {
	case spec.Scratch:
	case cfg.Tier != "":
		in.UserPoolTier = types.UserPoolTierType(cfg.Tier)
	default:
		notes = append(notes, "feature plan: not recorded; Cognito's default for new pools applies")
	}
	if spec.Scratch && !cfg.AdminCreateOnly {
		notes = append(notes, "self sign-up: closed on the scratch pool (the source lets users sign up)")
	}
	return in, notes
}

func nonEmptyOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (p *Pool) admin() (PoolAdminAPI, error) {
	a, ok := p.api.(PoolAdminAPI)
	if !ok {
		return nil, errors.New("the Cognito client cannot create, list or delete user pools")
	}
	return a, nil
}

// CreateUserPool creates an empty user pool from a mirrored configuration and
// returns its id and what could not be carried over (see CreatePoolInput
// and NotRecreated).
func (p *Pool) CreateUserPool(ctx context.Context, spec NewPoolSpec) (string, []string, error) {
	a, err := p.admin()
	if err != nil {
		return "", nil, err
	}
	in, notes := CreatePoolInput(spec)
	out, err := a.CreateUserPool(ctx, in, p.paced("", nil))
	if err != nil {
		return "", notes, translate("CreateUserPool", err)
	}
	return aws.ToString(out.UserPool.Id), notes, nil
}

// DeleteUserPool deletes a user pool with its users and groups.
func (p *Pool) DeleteUserPool(ctx context.Context, poolID string) error {
	a, err := p.admin()
	if err != nil {
		return err
	}
	_, err = a.DeleteUserPool(ctx, &cip.DeleteUserPoolInput{UserPoolId: aws.String(poolID)}, p.paced(poolID, nil))
	return translate("DeleteUserPool", err)
}

// PoolInfo is one pool ListUserPools found.
type PoolInfo struct {
	ID      string
	Name    string
	Created time.Time
	Tags    map[string]string
}

// ListUserPools returns the account's pools whose name starts with prefix, with
// their tags (ListUserPools, then DescribeUserPool for each match: the
// listing carries no tags).
func (p *Pool) ListUserPools(ctx context.Context, prefix string) ([]PoolInfo, error) {
	a, err := p.admin()
	if err != nil {
		return nil, err
	}
	var out []PoolInfo
	pages := cip.NewListUserPoolsPaginator(a, &cip.ListUserPoolsInput{MaxResults: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, p.paced("", nil))
		if err != nil {
			return nil, translate("ListUserPools", err)
		}
		for _, d := range page.UserPools {
			if !strings.HasPrefix(aws.ToString(d.Name), prefix) {
				continue
			}
			id := aws.ToString(d.Id)
			desc, err := p.api.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: aws.String(id)}, p.paced(id, nil))
			if err != nil {
				if errors.Is(translate("DescribeUserPool", err), idmirror.ErrPoolNotFound) {
					continue // deleted meanwhile
				}
				var ae smithy.APIError
				if errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException" {
					// A pool with the prefix the caller may not read (the
					// drill role reads only tagged pools): not a scratch pool
					// of ours, and no reason to stop.
					continue
				}
				return nil, translate("DescribeUserPool", err)
			}
			info := PoolInfo{ID: id, Name: aws.ToString(d.Name), Tags: desc.UserPool.UserPoolTags}
			if c := desc.UserPool.CreationDate; c != nil {
				info.Created = c.UTC()
			} else if d.CreationDate != nil {
				info.Created = d.CreationDate.UTC()
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
