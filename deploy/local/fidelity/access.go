package fidelity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// What cognito-local ignores of who may create and write what, given here
// from AWS's documentation:
//
//   - AdminCreateUserConfig.AllowAdminCreateUserOnly: "Set to True if only
//     the administrator is allowed to create user profiles"; SignUp then
//     answers NotAuthorizedException "SignUp is not permitted for this user
//     pool" (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminCreateUserConfigType.html).
//   - An app client's WriteAttributes: the attributes its users may set
//     through SignUp and UpdateUserAttributes / DeleteUserAttributes
//     (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolClientType.html);
//     another attribute is refused with NotAuthorizedException "A client
//     attempted to write unauthorized attribute". AWS documents that a client
//     without WriteAttributes writes the standard attributes; the proxy lets
//     it write every attribute (cognito-local's behaviour, which the other
//     tests rely on): restore treats such a client as able to write anything.
//   - UsernameConfiguration.CaseSensitive false: usernames (and, in pools that
//     sign in with them, emails) match whatever their case; "Amazon Cognito
//     treats any variation in case as the same user" (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UsernameConfigurationType.html;
//     a pool created without it is case sensitive, the default). The proxy
//     resolves the Username of the admin calls and of sign-in to the stored
//     one, and refuses AdminCreateUser and SignUp of a name another user holds
//     in another case (UsernameExistsException).

// poolSettings is what the proxy reads of a pool's configuration.
type poolSettings struct {
	AdminCreateOnly    bool
	CaseInsensitive    bool
	UsernameAttributes []string
}

func (p *Proxy) settings(ctx context.Context, pool string) (poolSettings, error) {
	var d struct {
		UserPool struct {
			AdminCreateUserConfig struct{ AllowAdminCreateUserOnly bool }
			UsernameConfiguration *struct{ CaseSensitive *bool }
			UsernameAttributes    []string
		}
	}
	if err := p.call(ctx, "DescribeUserPool", map[string]any{"UserPoolId": pool}, &d); err != nil {
		return poolSettings{}, err
	}
	up := d.UserPool
	s := poolSettings{AdminCreateOnly: up.AdminCreateUserConfig.AllowAdminCreateUserOnly, UsernameAttributes: up.UsernameAttributes}
	s.CaseInsensitive = up.UsernameConfiguration != nil && up.UsernameConfiguration.CaseSensitive != nil && !*up.UsernameConfiguration.CaseSensitive
	return s, nil
}

// staticSettings returns the settings of a pool that cannot change once it
// exists (UsernameConfiguration, UsernameAttributes), cached; ok false if
// the pool cannot be described (cognito-local then answers the call).
func (p *Proxy) staticSettings(ctx context.Context, pool string) (poolSettings, bool) {
	p.mu.Lock()
	v, ok := p.static[pool]
	p.mu.Unlock()
	if ok {
		return v, true
	}
	s, err := p.settings(ctx, pool)
	if err != nil {
		return poolSettings{}, false
	}
	s.AdminCreateOnly = false // can change: never read from the cache
	p.mu.Lock()
	p.static[pool] = s
	p.mu.Unlock()
	return s, true
}

// caseInsensitive reports whether a pool matches usernames whatever their case.
func (p *Proxy) caseInsensitive(ctx context.Context, pool string) bool {
	s, ok := p.staticSettings(ctx, pool)
	return ok && s.CaseInsensitive
}

// usernameOps take the user's name in "Username" (and a pool id).
var usernameOps = map[string]bool{
	"AdminGetUser": true, "AdminUpdateUserAttributes": true, "AdminDeleteUserAttributes": true,
	"AdminDisableUser": true, "AdminEnableUser": true, "AdminAddUserToGroup": true, "AdminRemoveUserFromGroup": true,
	"AdminListGroupsForUser": true, "AdminSetUserMFAPreference": true, "AdminSetUserPassword": true,
	"AdminResetUserPassword": true, "AdminDeleteUser": true, "AdminConfirmSignUp": true, "AdminUserGlobalSignOut": true,
}

// foldUsername rewrites the user named in a call to a case-insensitive pool
// to the name cognito-local stores (which matches case-sensitively).
func (p *Proxy) foldUsername(ctx context.Context, r *request) error {
	var pool, name string
	var set func(string)
	switch {
	case usernameOps[r.op]:
		pool, name = r.pool, r.str("Username")
		set = func(v string) { r.body["Username"] = v }
	case r.op == "AdminInitiateAuth" || r.op == "InitiateAuth":
		params, _ := r.body["AuthParameters"].(map[string]any)
		name, _ = params["USERNAME"].(string)
		if pool = r.pool; pool == "" && name != "" {
			pool, _ = p.poolOfClient(ctx, r.str("ClientId"))
		}
		set = func(v string) { params["USERNAME"] = v }
	default:
		return nil
	}
	if pool == "" || name == "" || !p.caseInsensitive(ctx, pool) {
		return nil
	}
	stored, err := p.storedName(ctx, pool, name)
	if err != nil || stored == "" || stored == name {
		return err
	}
	set(stored)
	raw, err := json.Marshal(r.body)
	if err != nil {
		return err
	}
	r.raw = raw
	return nil
}

// storedName finds the user a name means in a case-insensitive pool: the
// username in any case, or (in pools that sign in with them) the email in
// any case or the phone number. "" if none.
func (p *Proxy) storedName(ctx context.Context, pool, name string) (string, error) {
	var out struct {
		Users []struct {
			Username   string
			Attributes []attrType
		}
	}
	if err := p.call(ctx, "ListUsers", map[string]any{"UserPoolId": pool}, &out); err != nil {
		return "", err
	}
	found := ""
	for _, u := range out.Users {
		if u.Username == name {
			return name, nil
		}
		if strings.EqualFold(u.Username, name) {
			found = u.Username
		}
		for _, a := range u.Attributes {
			if (a.Name == "email" && strings.EqualFold(a.Value, name)) || (a.Name == "phone_number" && a.Value == name) {
				if found == "" {
					found = u.Username
				}
			}
		}
	}
	return found, nil
}

// refuseCaseVariant answers UsernameExistsException to AdminCreateUser or
// SignUp of a name another user of a case-insensitive pool holds in another
// case (an email, in pools that sign in with it).
func (p *Proxy) refuseCaseVariant(ctx context.Context, pool, name string) error {
	if pool == "" || name == "" || !p.caseInsensitive(ctx, pool) {
		return nil
	}
	stored, err := p.storedName(ctx, pool, name)
	if err != nil {
		return err
	}
	if stored != "" && stored != name {
		return &apiError{"UsernameExistsException", "User account already exists"}
	}
	return nil
}

func (p *Proxy) adminCreateUser(ctx context.Context, r *request) ([]byte, error) {
	if err := p.refuseCaseVariant(ctx, r.pool, r.str("Username")); err != nil {
		return nil, err
	}
	if s, ok := p.staticSettings(ctx, r.pool); ok && contains(s.UsernameAttributes, "email") && contains(s.UsernameAttributes, "phone_number") &&
		!strings.Contains(r.str("Username"), "@") {
		return p.createByPhone(ctx, r)
	}
	return p.checkAttributes(ctx, r)
}

// createByPhone creates a user of a pool that signs in with an email or a
// phone number under its phone number, as Cognito does (a generated
// username, the phone number as phone_number). cognito-local takes only an
// email there: the user is created under a placeholder email, which is then
// removed.
func (p *Proxy) createByPhone(ctx context.Context, r *request) ([]byte, error) {
	if err := p.validateAttributes(ctx, r); err != nil {
		return nil, err
	}
	phone := r.str("Username")
	var existing userDoc
	err := p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": r.pool, "Username": phone}, &existing)
	var ae *apiError
	switch {
	case err == nil:
		return nil, &apiError{"UsernameExistsException", "An account with the given phone_number already exists."}
	case !errors.As(err, &ae) || ae.Type != "UserNotFoundException":
		return nil, err
	}
	attrs, _ := r.body["UserAttributes"].([]any)
	names := attributeNames(attrs)
	if !contains(names, "phone_number") {
		attrs = append(attrs, map[string]any{"Name": "phone_number", "Value": phone})
	}
	body := copyBody(r.body)
	body["UserAttributes"] = attrs
	body["Username"] = randomPassword()[4:] + "@phone-username.invalid"
	var created struct{ User struct{ Username string } }
	if err := p.call(ctx, "AdminCreateUser", body, &created); err != nil {
		return nil, err
	}
	name := created.User.Username
	if !contains(names, "email") {
		if err := p.call(ctx, "AdminDeleteUserAttributes", map[string]any{"UserPoolId": r.pool, "Username": name, "UserAttributeNames": []string{"email"}}, nil); err != nil {
			return nil, err
		}
	}
	var u map[string]any
	if err := p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": r.pool, "Username": name}, &u); err != nil {
		return nil, err
	}
	u["Attributes"] = u["UserAttributes"]
	delete(u, "UserAttributes")
	return marshal(map[string]any{"User": u})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// signUp refuses self sign-up in a pool where only administrators create
// users, attributes the app client may not write, and case variants of
// existing usernames.
func (p *Proxy) signUp(ctx context.Context, r *request) ([]byte, error) {
	clientID := r.str("ClientId")
	pool, err := p.poolOfClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	s, err := p.settings(ctx, pool)
	if err != nil {
		return nil, err
	}
	if s.AdminCreateOnly {
		return nil, &apiError{"NotAuthorizedException", "SignUp is not permitted for this user pool"}
	}
	if err := p.checkWritable(ctx, pool, clientID, attributeNames(r.body["UserAttributes"])); err != nil {
		return nil, err
	}
	if err := p.refuseCaseVariant(ctx, pool, r.str("Username")); err != nil {
		return nil, err
	}
	return p.checkAttributes(ctx, r)
}

// userWrite checks UpdateUserAttributes and DeleteUserAttributes (a user
// writing their own attributes with an access token) against the
// WriteAttributes of the app client the token was issued to.
func (p *Proxy) userWrite(ctx context.Context, r *request) ([]byte, error) {
	names := attributeNames(r.body["UserAttributes"])
	if list, ok := r.body["UserAttributeNames"].([]any); ok {
		for _, n := range list {
			if s, ok := n.(string); ok {
				names = append(names, s)
			}
		}
	}
	if clientID := tokenClient(r.str("AccessToken")); clientID != "" {
		pool, err := p.poolOfClient(ctx, clientID)
		if err != nil {
			return nil, err
		}
		if err := p.checkWritable(ctx, pool, clientID, names); err != nil {
			return nil, err
		}
	}
	return p.forward(ctx, r.op, r.raw)
}

// checkWritable refuses attributes the app client's WriteAttributes do not
// list (a client without WriteAttributes writes every attribute here).
func (p *Proxy) checkWritable(ctx context.Context, pool, clientID string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	var d struct {
		UserPoolClient struct{ WriteAttributes []string }
	}
	if err := p.call(ctx, "DescribeUserPoolClient", map[string]any{"UserPoolId": pool, "ClientId": clientID}, &d); err != nil {
		return err
	}
	allowed := d.UserPoolClient.WriteAttributes
	if len(allowed) == 0 {
		return nil
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, n := range names {
		if !ok[n] {
			return &apiError{"NotAuthorizedException", "A client attempted to write unauthorized attribute"}
		}
	}
	return nil
}

func attributeNames(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, a := range list {
		m, _ := a.(map[string]any)
		if name, _ := m["Name"].(string); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// tokenClient reads the client_id claim of an access token (unverified:
// cognito-local verifies the token when it serves the call).
func tokenClient(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	return claims.ClientID
}
