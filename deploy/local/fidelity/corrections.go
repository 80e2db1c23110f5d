package fidelity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

type attrType struct {
	Name  string
	Value string
}

type userDoc struct {
	Username           string
	Enabled            bool
	UserStatus         string
	UserAttributes     []attrType
	UserMFASettingList []string
}

func (u userDoc) attr(name string) string {
	for _, a := range u.UserAttributes {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

func overlayKey(pool, username string) string { return pool + "/" + username }

func (p *Proxy) isReset(pool, username string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reset[overlayKey(pool, username)]
}

// checkAttributes refuses `sub`, `identities` and custom attributes the
// pool's schema lacks, as Cognito does, before forwarding.
func (p *Proxy) checkAttributes(ctx context.Context, r *request) ([]byte, error) {
	if err := p.validateAttributes(ctx, r); err != nil {
		return nil, err
	}
	return p.forward(ctx, r.op, r.raw)
}

func (p *Proxy) validateAttributes(ctx context.Context, r *request) error {
	attrs, _ := r.body["UserAttributes"].([]any)
	var custom []string
	for _, a := range attrs {
		m, _ := a.(map[string]any)
		name, _ := m["Name"].(string)
		switch {
		case name == "sub":
			return invalidParameter("Attributes did not conform to the schema: sub: Attribute cannot be updated. (changing an immutable attribute)")
		case name == "identities":
			// Cognito alone writes it (federated sign-in, AdminLinkProviderForUser).
			return invalidParameter("Attributes did not conform to the schema: identities: Attribute cannot be updated.")
		case strings.HasPrefix(name, "custom:"):
			custom = append(custom, name)
		}
	}
	if len(custom) > 0 {
		pool := r.pool
		if pool == "" { // SignUp names the app client, not the pool
			var err error
			if pool, err = p.poolOfClient(ctx, r.str("ClientId")); err != nil {
				return err
			}
		}
		var d struct {
			UserPool struct {
				SchemaAttributes []struct{ Name string }
			}
		}
		if err := p.call(ctx, "DescribeUserPool", map[string]any{"UserPoolId": pool}, &d); err != nil {
			return err
		}
		have := map[string]bool{}
		for _, s := range d.UserPool.SchemaAttributes {
			have[s.Name] = true
		}
		for _, name := range custom {
			if !have[name] {
				return invalidParameter("Attributes did not conform to the schema: Type for attribute {%s} could not be determined", name)
			}
		}
	}
	return nil
}

// poolOfClient finds the pool of an app client. The answer never changes
// once the client exists, so it is cached.
func (p *Proxy) poolOfClient(ctx context.Context, clientID string) (string, error) {
	p.mu.Lock()
	pool, ok := p.clients[clientID]
	p.mu.Unlock()
	if ok {
		return pool, nil
	}
	var pools struct{ UserPools []struct{ Id string } }
	if err := p.call(ctx, "ListUserPools", map[string]any{"MaxResults": 60}, &pools); err != nil {
		return "", err
	}
	for _, up := range pools.UserPools {
		var cl struct{ UserPoolClients []struct{ ClientId string } }
		if err := p.call(ctx, "ListUserPoolClients", map[string]any{"UserPoolId": up.Id, "MaxResults": 60}, &cl); err != nil {
			continue
		}
		p.mu.Lock()
		for _, c := range cl.UserPoolClients {
			p.clients[c.ClientId] = up.Id
		}
		pool, ok = p.clients[clientID]
		p.mu.Unlock()
		if ok {
			return pool, nil
		}
	}
	return "", &apiError{"ResourceNotFoundException", "User pool client " + clientID + " does not exist."}
}

// initiateAuth refuses disabled users and users whose password was reset,
// and reports a wrong password as Cognito does.
func (p *Proxy) initiateAuth(ctx context.Context, r *request) ([]byte, error) {
	params, _ := r.body["AuthParameters"].(map[string]any)
	username, _ := params["USERNAME"].(string)
	if username != "" {
		pool := r.pool
		if pool == "" {
			var err error
			if pool, err = p.poolOfClient(ctx, r.str("ClientId")); err != nil {
				return nil, err
			}
		}
		var u userDoc
		err := p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": pool, "Username": username}, &u)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Type == "UserNotFoundException":
			return nil, &apiError{"NotAuthorizedException", "Incorrect username or password."}
		case err != nil:
			return nil, err
		case !u.Enabled:
			return nil, &apiError{"NotAuthorizedException", "User is disabled."}
		case p.isReset(pool, u.Username):
			return nil, &apiError{"PasswordResetRequiredException", "Password reset required for the user"}
		}
	}
	out, err := p.forward(ctx, r.op, r.raw)
	var ae *apiError
	if errors.As(err, &ae) && ae.Type == "InvalidPasswordException" {
		return nil, &apiError{"NotAuthorizedException", "Incorrect username or password."}
	}
	return out, err
}

// getGroup answers from ListGroups: cognito-local's GetGroup fails with a
// 500 in a pool that has no group yet.
func (p *Proxy) getGroup(ctx context.Context, r *request) ([]byte, error) {
	var groups struct{ Groups []map[string]any }
	if err := p.call(ctx, "ListGroups", map[string]any{"UserPoolId": r.pool}, &groups); err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		if g["GroupName"] == r.str("GroupName") {
			return marshal(map[string]any{"Group": g})
		}
	}
	return nil, &apiError{"ResourceNotFoundException", "Group not found."}
}

func (p *Proxy) createGroup(ctx context.Context, r *request) ([]byte, error) {
	// ListGroups, not GetGroup: cognito-local's GetGroup fails with a 500 in a
	// pool that has no group yet. It returns every group in one answer.
	var groups struct{ Groups []struct{ GroupName string } }
	if err := p.call(ctx, "ListGroups", map[string]any{"UserPoolId": r.pool}, &groups); err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		if g.GroupName == r.str("GroupName") {
			return nil, &apiError{"GroupExistsException", "A group with the name " + g.GroupName + " already exists."}
		}
	}
	return p.forward(ctx, r.op, r.raw)
}

// adminResetUserPassword puts the user in RESET_REQUIRED: the old password
// stops working, and sign-in answers PasswordResetRequiredException until the
// user sets a new password (ConfirmForgotPassword) or an admin does.
func (p *Proxy) adminResetUserPassword(ctx context.Context, r *request) ([]byte, error) {
	var u userDoc
	if err := p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": r.pool, "Username": r.str("Username")}, &u); err != nil {
		return nil, err
	}
	if u.attr("email_verified") != "true" && u.attr("phone_number_verified") != "true" {
		return nil, invalidParameter("Cannot reset password for the user as there is no registered/verified email or phone_number")
	}
	if err := p.call(ctx, "AdminSetUserPassword", map[string]any{
		"UserPoolId": r.pool, "Username": u.Username, "Password": randomPassword(), "Permanent": true,
	}, nil); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.reset[overlayKey(r.pool, u.Username)] = true
	p.mu.Unlock()
	return []byte("{}"), nil
}

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return "Rr1!" + base64.RawURLEncoding.EncodeToString(b)
}

func (p *Proxy) adminSetUserMFAPreference(ctx context.Context, r *request) ([]byte, error) {
	var u userDoc
	if err := p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": r.pool, "Username": r.str("Username")}, &u); err != nil {
		return nil, err
	}
	p.mu.Lock()
	pref := p.mfa[overlayKey(r.pool, u.Username)]
	p.mu.Unlock()
	for _, s := range u.UserMFASettingList {
		if s == "SOFTWARE_TOKEN_MFA" {
			pref.TOTP = true
		}
	}
	totpSetUp := pref.TOTP
	apply := func(field, kind string, enabled *bool, setUp bool, missing string) error {
		m, ok := r.body[field].(map[string]any)
		if !ok {
			return nil
		}
		en, _ := m["Enabled"].(bool)
		if en && !setUp {
			return invalidParameter("%s", missing)
		}
		*enabled = en
		if pr, _ := m["PreferredMfa"].(bool); pr {
			if !*enabled {
				return invalidParameter("%s cannot be preferred when it is not enabled", kind)
			}
			pref.Preferred = kind
		} else if pref.Preferred == kind {
			pref.Preferred = ""
		}
		return nil
	}
	if err := apply("SMSMfaSettings", "SMS_MFA", &pref.SMS, u.attr("phone_number") != "", "User does not have delivery config set to turn on SMS_MFA"); err != nil {
		return nil, err
	}
	if err := apply("SoftwareTokenMfaSettings", "SOFTWARE_TOKEN_MFA", &pref.TOTP, totpSetUp, "User has not set up software token mfa"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.mfa[overlayKey(r.pool, u.Username)] = pref
	p.mu.Unlock()
	return []byte("{}"), nil
}

// adminGetUser adds what the proxy holds: RESET_REQUIRED and MFA preferences.
func (p *Proxy) adminGetUser(ctx context.Context, r *request) ([]byte, error) {
	out, err := p.forward(ctx, r.op, r.raw)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	name, _ := doc["Username"].(string)
	k := overlayKey(r.pool, name)
	p.mu.Lock()
	reset := p.reset[k]
	pref, hasPref := p.mfa[k]
	p.mu.Unlock()
	if reset {
		doc["UserStatus"] = "RESET_REQUIRED"
	}
	if hasPref {
		var list []string
		if pref.SMS {
			list = append(list, "SMS_MFA")
		}
		if pref.TOTP {
			list = append(list, "SOFTWARE_TOKEN_MFA")
		}
		if len(list) > 0 {
			doc["UserMFASettingList"] = list
		} else {
			delete(doc, "UserMFASettingList")
		}
		if pref.Preferred != "" {
			doc["PreferredMfaSetting"] = pref.Preferred
		} else {
			delete(doc, "PreferredMfaSetting")
		}
	}
	return marshal(doc)
}

// clearingOverlay forwards a call that ends what the proxy held for the
// user: a new password ends RESET_REQUIRED, a deletion ends everything.
func (p *Proxy) clearingOverlay(ctx context.Context, r *request) ([]byte, error) {
	var u userDoc
	if err := p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": r.pool, "Username": r.str("Username")}, &u); err != nil {
		return nil, err
	}
	out, err := p.forward(ctx, r.op, r.raw)
	if err != nil {
		return nil, err
	}
	k := overlayKey(r.pool, u.Username)
	p.mu.Lock()
	delete(p.reset, k)
	if r.op == "AdminDeleteUser" {
		delete(p.mfa, k)
	}
	p.mu.Unlock()
	return out, nil
}

func (p *Proxy) confirmForgotPassword(ctx context.Context, r *request) ([]byte, error) {
	out, err := p.forward(ctx, r.op, r.raw)
	if err != nil {
		return nil, err
	}
	if pool, err := p.poolOfClient(ctx, r.str("ClientId")); err == nil {
		var u userDoc
		if p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": pool, "Username": r.str("Username")}, &u) == nil {
			p.mu.Lock()
			delete(p.reset, overlayKey(pool, u.Username))
			p.mu.Unlock()
		}
	}
	return out, nil
}

func (p *Proxy) deleteUserPool(ctx context.Context, r *request) ([]byte, error) {
	out, err := p.forward(ctx, r.op, r.raw)
	if err != nil {
		return nil, err
	}
	prefix := r.pool + "/"
	p.mu.Lock()
	for k := range p.reset {
		if strings.HasPrefix(k, prefix) {
			delete(p.reset, k)
		}
	}
	for k := range p.mfa {
		if strings.HasPrefix(k, prefix) {
			delete(p.mfa, k)
		}
	}
	p.mu.Unlock()
	return out, nil
}
