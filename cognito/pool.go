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

// API is the part of the Cognito client the adapter uses.
type API interface {
	DescribeUserPool(context.Context, *cip.DescribeUserPoolInput, ...func(*cip.Options)) (*cip.DescribeUserPoolOutput, error)
	ListUsers(context.Context, *cip.ListUsersInput, ...func(*cip.Options)) (*cip.ListUsersOutput, error)
	ListGroups(context.Context, *cip.ListGroupsInput, ...func(*cip.Options)) (*cip.ListGroupsOutput, error)
	ListUsersInGroup(context.Context, *cip.ListUsersInGroupInput, ...func(*cip.Options)) (*cip.ListUsersInGroupOutput, error)
	AdminGetUser(context.Context, *cip.AdminGetUserInput, ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	AdminListGroupsForUser(context.Context, *cip.AdminListGroupsForUserInput, ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error)
	GetGroup(context.Context, *cip.GetGroupInput, ...func(*cip.Options)) (*cip.GetGroupOutput, error)
	CreateGroup(context.Context, *cip.CreateGroupInput, ...func(*cip.Options)) (*cip.CreateGroupOutput, error)
	UpdateGroup(context.Context, *cip.UpdateGroupInput, ...func(*cip.Options)) (*cip.UpdateGroupOutput, error)
	AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminUpdateUserAttributes(context.Context, *cip.AdminUpdateUserAttributesInput, ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error)
	AdminDisableUser(context.Context, *cip.AdminDisableUserInput, ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error)
	AdminEnableUser(context.Context, *cip.AdminEnableUserInput, ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error)
	AdminAddUserToGroup(context.Context, *cip.AdminAddUserToGroupInput, ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error)
	AdminRemoveUserFromGroup(context.Context, *cip.AdminRemoveUserFromGroupInput, ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error)
	AdminSetUserMFAPreference(context.Context, *cip.AdminSetUserMFAPreferenceInput, ...func(*cip.Options)) (*cip.AdminSetUserMFAPreferenceOutput, error)
	AdminSetUserPassword(context.Context, *cip.AdminSetUserPasswordInput, ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
	AdminResetUserPassword(context.Context, *cip.AdminResetUserPasswordInput, ...func(*cip.Options)) (*cip.AdminResetUserPasswordOutput, error)
	AdminDeleteUserAttributes(context.Context, *cip.AdminDeleteUserAttributesInput, ...func(*cip.Options)) (*cip.AdminDeleteUserAttributesOutput, error)
	ListUserPoolClients(context.Context, *cip.ListUserPoolClientsInput, ...func(*cip.Options)) (*cip.ListUserPoolClientsOutput, error)
	DescribeUserPoolClient(context.Context, *cip.DescribeUserPoolClientInput, ...func(*cip.Options)) (*cip.DescribeUserPoolClientOutput, error)
}

// Pool reads and writes user pools through the pacer, and speaks idmirror's
// domain types and sentinel errors. Every call carries the paced option (see
// client.go); its errors go through translate.
type Pool struct {
	api   API
	pacer *Pacer
}

// NewPool returns the adapter over a client from NewClient (its retryer
// leaves throttles to the pacer). A nil pacer paces at the default share.
func NewPool(api API, pacer *Pacer) *Pool {
	if pacer == nil {
		pacer = NewPacer(PacerOptions{})
	}
	return &Pool{api: api, pacer: pacer}
}

// Pacer returns the adapter's pacer.
func (p *Pool) Pacer() *Pacer { return p.pacer }

// pageSize is the largest page every listing idmirror uses accepts.
const pageSize = 60

// ErrNoVerifiedContact is AdminResetUserPassword's refusal for a user with
// neither a verified email nor a verified phone number: Cognito has nowhere
// to send the code. It wraps idmirror.ErrInvalid.
var ErrNoVerifiedContact = fmt.Errorf("no verified email or phone number to send a reset code to: %w", idmirror.ErrInvalid)

// translate turns Cognito's errors into idmirror's sentinels, keeping the
// original in the chain.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var sentinel error
	switch ae.ErrorCode() {
	case "UserNotFoundException":
		sentinel = idmirror.ErrNotFound
	case "ResourceNotFoundException":
		sentinel = idmirror.ErrNotFound
		if strings.Contains(strings.ToLower(ae.ErrorMessage()), "pool") || op == "DescribeUserPool" || op == "ListUsers" || op == "ListGroups" || op == "AdminGetUser" {
			sentinel = idmirror.ErrPoolNotFound
		}
	case "UsernameExistsException", "GroupExistsException", "AliasExistsException":
		sentinel = idmirror.ErrExists
	case "InvalidParameterException":
		sentinel = idmirror.ErrInvalid
		if op == "AdminResetUserPassword" && noVerifiedContact(ae.ErrorMessage()) {
			sentinel = ErrNoVerifiedContact
		}
	case "TooManyRequestsException":
		sentinel = idmirror.ErrThrottled
	}
	if sentinel == nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, sentinel, err)
}

// noVerifiedContact recognises the InvalidParameterException Cognito answers
// a password reset for a user without a verified email or phone number:
// "Cannot reset password for the user as there is no registered/verified
// email or phone_number". AdminResetUserPassword is "the administrative API
// equivalent to ForgotPassword" and lists InvalidParameterException
// (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminResetUserPassword.html);
// ForgotPassword's reference says "If neither a verified phone number nor a
// verified email exists, Amazon Cognito responds with an
// InvalidParameterException error"
// (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ForgotPassword.html).
// The references do not quote the message, hence the loose match.
func noVerifiedContact(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "verified") && (strings.Contains(msg, "email") || strings.Contains(msg, "phone"))
}

// Describe reads the pool's configuration. ErrPoolNotFound if it is gone.
func (p *Pool) Describe(ctx context.Context, poolID string) (idmirror.PoolConfig, error) {
	out, err := p.api.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: aws.String(poolID)}, p.paced(poolID, nil))
	if err != nil {
		return idmirror.PoolConfig{}, translate("DescribeUserPool", err)
	}
	up := out.UserPool
	cfg := idmirror.PoolConfig{PoolID: poolID, Name: aws.ToString(up.Name), MFA: string(up.MfaConfiguration)}
	for _, a := range up.UsernameAttributes {
		cfg.UsernameAttributes = append(cfg.UsernameAttributes, string(a))
	}
	for _, a := range up.AliasAttributes {
		cfg.AliasAttributes = append(cfg.AliasAttributes, string(a))
	}
	for _, s := range up.SchemaAttributes {
		cfg.Schema = append(cfg.Schema, idmirror.SchemaAttribute{Name: aws.ToString(s.Name), DataType: string(s.AttributeDataType),
			Mutable: aws.ToBool(s.Mutable), Required: aws.ToBool(s.Required)})
	}
	sort.Slice(cfg.Schema, func(i, j int) bool { return cfg.Schema[i].Name < cfg.Schema[j].Name })
	signUpAndRecovery(&cfg, up)
	recordPolicies(&cfg, up)
	return cfg, nil
}

// userOf converts Cognito's user to ours (groups and MFA not included).
func userOf(poolID, username string, attrs []types.AttributeType, status types.UserStatusType, enabled bool, created, modified *time.Time) idmirror.User {
	u := idmirror.User{PoolID: poolID, Username: username, Status: string(status), Enabled: enabled, Attributes: map[string]string{}}
	for _, a := range attrs {
		name, v := aws.ToString(a.Name), aws.ToString(a.Value)
		if name == "sub" {
			u.Sub = v
			continue
		}
		u.Attributes[name] = v
	}
	if created != nil {
		u.Created = created.UTC()
	}
	if modified != nil {
		u.Modified = modified.UTC()
	}
	return u
}

// ListUsers streams every user of the pool, 60 a page. at is when the page
// holding the user was requested (the attempt Cognito answered, after any
// pacing and throttling): the user's observation time.
func (p *Pool) ListUsers(ctx context.Context, poolID string, fn func(u idmirror.User, at time.Time) error) error {
	pages := cip.NewListUsersPaginator(p.api, &cip.ListUsersInput{UserPoolId: aws.String(poolID), Limit: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		at := time.Now() // the send time replaces it (a client without middleware leaves this one)
		page, err := pages.NextPage(ctx, p.paced(poolID, &at))
		if err != nil {
			return translate("ListUsers", err)
		}
		for _, u := range page.Users {
			if err := fn(userOf(poolID, aws.ToString(u.Username), u.Attributes, u.UserStatus, u.Enabled, u.UserCreateDate, u.UserLastModifiedDate), at); err != nil {
				return err
			}
		}
	}
	return nil
}

// FindBySub returns the username of the user with that sub (ErrNotFound if none).
func (p *Pool) FindBySub(ctx context.Context, poolID, sub string) (string, error) {
	if strings.ContainsAny(sub, `"\`) {
		return "", fmt.Errorf("%w: sub %q", idmirror.ErrInvalid, sub)
	}
	out, err := p.api.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(poolID), Filter: aws.String(`sub = "` + sub + `"`), Limit: aws.Int32(1)},
		p.paced(poolID, nil))
	if err != nil {
		return "", translate("ListUsers", err)
	}
	if len(out.Users) == 0 {
		return "", fmt.Errorf("user with sub %s: %w", sub, idmirror.ErrNotFound)
	}
	return aws.ToString(out.Users[0].Username), nil
}

// GetUser reads one user fully: attributes, status, MFA (AdminGetUser) and
// groups (AdminListGroupsForUser).
func (p *Pool) GetUser(ctx context.Context, poolID, username string) (idmirror.User, error) {
	out, err := p.api.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(poolID), Username: aws.String(username)}, p.paced(poolID, nil))
	if err != nil {
		return idmirror.User{}, translate("AdminGetUser", err)
	}
	u := userOf(poolID, aws.ToString(out.Username), out.UserAttributes, out.UserStatus, out.Enabled, out.UserCreateDate, out.UserLastModifiedDate)
	for _, m := range out.UserMFASettingList {
		switch m {
		case MFASMS:
			u.MFA.SMSEnabled = true
		case MFASoftwareToken:
			u.MFA.TOTPEnabled = true
		}
	}
	u.MFA.Preferred = aws.ToString(out.PreferredMfaSetting)
	pages := cip.NewAdminListGroupsForUserPaginator(p.api, &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(poolID),
		Username: aws.String(u.Username), Limit: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, p.paced(poolID, nil))
		if err != nil {
			return idmirror.User{}, translate("AdminListGroupsForUser", err)
		}
		for _, g := range page.Groups {
			u.Groups = append(u.Groups, aws.ToString(g.GroupName))
		}
	}
	u.Groups = idmirror.SortedUnique(u.Groups)
	return u, nil
}

func groupOf(poolID string, g types.GroupType) idmirror.Group {
	return idmirror.Group{PoolID: poolID, Name: aws.ToString(g.GroupName), Description: aws.ToString(g.Description),
		Precedence: g.Precedence, RoleArn: aws.ToString(g.RoleArn)}
}

// ListGroups returns every group of the pool.
func (p *Pool) ListGroups(ctx context.Context, poolID string) ([]idmirror.Group, error) {
	var out []idmirror.Group
	pages := cip.NewListGroupsPaginator(p.api, &cip.ListGroupsInput{UserPoolId: aws.String(poolID), Limit: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, p.paced(poolID, nil))
		if err != nil {
			return nil, translate("ListGroups", err)
		}
		for _, g := range page.Groups {
			out = append(out, groupOf(poolID, g))
		}
	}
	return out, nil
}

// GetGroup reads one group (ErrNotFound if the group is gone).
func (p *Pool) GetGroup(ctx context.Context, poolID, name string) (idmirror.Group, error) {
	out, err := p.api.GetGroup(ctx, &cip.GetGroupInput{UserPoolId: aws.String(poolID), GroupName: aws.String(name)}, p.paced(poolID, nil))
	if err != nil {
		return idmirror.Group{}, translate("GetGroup", err)
	}
	return groupOf(poolID, *out.Group), nil
}

// GroupMembers streams the usernames in a group, 60 a page.
func (p *Pool) GroupMembers(ctx context.Context, poolID, group string, fn func(username string) error) error {
	pages := cip.NewListUsersInGroupPaginator(p.api, &cip.ListUsersInGroupInput{UserPoolId: aws.String(poolID),
		GroupName: aws.String(group), Limit: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, p.paced(poolID, nil))
		if err != nil {
			return translate("ListUsersInGroup", err)
		}
		for _, u := range page.Users {
			if err := fn(aws.ToString(u.Username)); err != nil {
				return err
			}
		}
	}
	return nil
}
