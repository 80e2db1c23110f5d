package cognito

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
)

// CreateGroup creates a group (ErrExists if it is there).
func (p *Pool) CreateGroup(ctx context.Context, g idmirror.Group) error {
	_, err := p.api.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(g.PoolID), GroupName: aws.String(g.Name),
		Description: nonEmpty(g.Description), Precedence: g.Precedence, RoleArn: nonEmpty(g.RoleArn)}, p.paced(g.PoolID, nil))
	return translate("CreateGroup", err)
}

// UpdateGroup sets a group's description, precedence and role.
func (p *Pool) UpdateGroup(ctx context.Context, g idmirror.Group) error {
	_, err := p.api.UpdateGroup(ctx, &cip.UpdateGroupInput{UserPoolId: aws.String(g.PoolID), GroupName: aws.String(g.Name),
		Description: nonEmpty(g.Description), Precedence: g.Precedence, RoleArn: nonEmpty(g.RoleArn)}, p.paced(g.PoolID, nil))
	return translate("UpdateGroup", err)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// Invitation says how AdminCreateUser reaches the new user.
type Invitation int

// Invitation modes.
const (
	Invite   Invitation = iota // Cognito sends an invitation with a temporary password
	Suppress                   // no message
)

// CreateUser creates a user with the given attributes and returns it as
// Cognito made it (its new sub, its status).
func (p *Pool) CreateUser(ctx context.Context, poolID, username string, attrs map[string]string, how Invitation) (idmirror.User, error) {
	in := &cip.AdminCreateUserInput{UserPoolId: aws.String(poolID), Username: aws.String(username), UserAttributes: attributeList(attrs)}
	if how == Suppress {
		in.MessageAction = types.MessageActionTypeSuppress
		in.TemporaryPassword = aws.String(RandomPassword())
	} else {
		var media []types.DeliveryMediumType
		if attrs["email"] != "" {
			media = append(media, types.DeliveryMediumTypeEmail)
		}
		if attrs["phone_number"] != "" {
			media = append(media, types.DeliveryMediumTypeSms)
		}
		in.DesiredDeliveryMediums = media
	}
	out, err := p.api.AdminCreateUser(ctx, in, p.paced(poolID, nil))
	if err != nil {
		return idmirror.User{}, translate("AdminCreateUser", err)
	}
	u := out.User
	return userOf(poolID, aws.ToString(u.Username), u.Attributes, u.UserStatus, u.Enabled, u.UserCreateDate, u.UserLastModifiedDate), nil
}

func attributeList(attrs map[string]string) []types.AttributeType {
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]types.AttributeType, 0, len(names))
	for _, k := range names {
		out = append(out, types.AttributeType{Name: aws.String(k), Value: aws.String(attrs[k])})
	}
	return out
}

// UpdateAttributes sets attributes of a user.
func (p *Pool) UpdateAttributes(ctx context.Context, poolID, username string, attrs map[string]string) error {
	_, err := p.api.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: aws.String(poolID), Username: aws.String(username),
		UserAttributes: attributeList(attrs)}, p.paced(poolID, nil))
	return translate("AdminUpdateUserAttributes", err)
}

// SetEnabled enables or disables a user.
func (p *Pool) SetEnabled(ctx context.Context, poolID, username string, enabled bool) error {
	if enabled {
		_, err := p.api.AdminEnableUser(ctx, &cip.AdminEnableUserInput{UserPoolId: aws.String(poolID), Username: aws.String(username)}, p.paced(poolID, nil))
		return translate("AdminEnableUser", err)
	}
	_, err := p.api.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: aws.String(poolID), Username: aws.String(username)}, p.paced(poolID, nil))
	return translate("AdminDisableUser", err)
}

// AddToGroup adds a user to a group.
func (p *Pool) AddToGroup(ctx context.Context, poolID, username, group string) error {
	_, err := p.api.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(poolID), Username: aws.String(username),
		GroupName: aws.String(group)}, p.paced(poolID, nil))
	return translate("AdminAddUserToGroup", err)
}

// RemoveFromGroup removes a user from a group.
func (p *Pool) RemoveFromGroup(ctx context.Context, poolID, username, group string) error {
	_, err := p.api.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: aws.String(poolID), Username: aws.String(username),
		GroupName: aws.String(group)}, p.paced(poolID, nil))
	return translate("AdminRemoveUserFromGroup", err)
}

// SetSMSMFA sets a user's SMS MFA preference.
func (p *Pool) SetSMSMFA(ctx context.Context, poolID, username string, enabled, preferred bool) error {
	_, err := p.api.AdminSetUserMFAPreference(ctx, &cip.AdminSetUserMFAPreferenceInput{UserPoolId: aws.String(poolID), Username: aws.String(username),
		SMSMfaSettings: &types.SMSMfaSettingsType{Enabled: enabled, PreferredMfa: preferred}}, p.paced(poolID, nil))
	return translate("AdminSetUserMFAPreference", err)
}

// SetRandomPassword sets a permanent random password: the user is CONFIRMED and
// nobody knows the password.
func (p *Pool) SetRandomPassword(ctx context.Context, poolID, username string) error {
	_, err := p.api.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: aws.String(poolID), Username: aws.String(username),
		Password: aws.String(RandomPassword()), Permanent: true}, p.paced(poolID, nil))
	return translate("AdminSetUserPassword", err)
}

// ResetPassword puts the user in RESET_REQUIRED (StatusResetRequired);
// Cognito sends a code to the verified email or phone. ErrNoVerifiedContact
// if the user has neither.
func (p *Pool) ResetPassword(ctx context.Context, poolID, username string) error {
	_, err := p.api.AdminResetUserPassword(ctx, &cip.AdminResetUserPasswordInput{UserPoolId: aws.String(poolID), Username: aws.String(username)},
		p.paced(poolID, nil))
	return translate("AdminResetUserPassword", err)
}

// RandomPassword returns a password nobody will ever see, meeting Cognito's
// strictest default policy (upper, lower, digit, symbol, long).
func RandomPassword() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "Aa1!" + base64.RawURLEncoding.EncodeToString(b)
}
