package mempool

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
)

const (
	statusConfirmed   = "CONFIRMED"
	statusUnconfirmed = "UNCONFIRMED"
	statusForceChange = "FORCE_CHANGE_PASSWORD"
	statusResetReq    = "RESET_REQUIRED"
	mfaSMS            = "SMS_MFA"
)

// user resolves the Username parameter of a call: the username; the email
// or phone number the user signs in with (UsernameAttributes); a verified
// alias; or the sub ("it can be any of their alias attributes. If username
// isn't an alias attribute in your user pool, this value must be the sub of
// a local user", AdminGetUser's reference). ErrNotFound if none matches.
func (p *pool) user(op, name string) (*user, error) {
	k := p.key(name)
	if u := p.users[k]; u != nil {
		return u, nil
	}
	for _, u := range p.sortedUsers() {
		if u.u.Sub == name {
			return u, nil
		}
		for _, a := range append(slices.Clone(p.opts.UsernameAttributes), p.opts.AliasAttributes...) {
			ok := slices.Contains(p.opts.UsernameAttributes, a) || a == "preferred_username" || u.u.Attributes[a+"_verified"] == "true"
			if v := u.u.Attributes[a]; ok && v != "" && p.key(v) == k {
				return u, nil
			}
		}
	}
	return nil, errorf(op, idmirror.ErrNotFound, "user %q does not exist", name)
}

// checkAttrs checks an attribute write against the schema: sub is
// Cognito's alone, a name outside the schema is refused ("Attribute does
// not exist in the schema"), an immutable attribute is set at creation only.
func (p *pool) checkAttrs(op string, names []string, creating bool) error {
	for _, name := range names {
		switch a, ok := p.schema[name]; {
		case name == "sub":
			return errorf(op, idmirror.ErrInvalid, "attribute sub cannot be set: Cognito generates it")
		case !ok:
			return errorf(op, idmirror.ErrInvalid, "attribute %s does not exist in the schema", name)
		case !creating && !a.Mutable:
			return errorf(op, idmirror.ErrInvalid, "attribute %s is immutable", name)
		}
	}
	return nil
}

// valid checks a user's attributes as a whole: every required attribute is
// there, and no other user signs in with the same email or phone number
// (UsernameAttributes; ErrExists).
func (p *pool) valid(op string, self *user, attrs map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(p.schema)) {
		if p.schema[name].Required && name != "sub" && attrs[name] == "" {
			return errorf(op, idmirror.ErrInvalid, "required attribute %s is missing", name)
		}
	}
	for _, a := range p.opts.UsernameAttributes {
		for _, o := range p.users {
			if v := attrs[a]; v != "" && o != self && p.key(o.u.Attributes[a]) == p.key(v) {
				return errorf(op, idmirror.ErrExists, "an account with the given %s already exists", a)
			}
		}
	}
	return nil
}

// newSub returns a fresh random UUID (version 4), unique in the pool.
func (s *Service) newSub(p *pool) string {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		panic(fmt.Sprintf("mempool: reading random bytes: %v", err))
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	sub := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	for _, u := range p.users {
		if u.u.Sub == sub {
			return s.newSub(p)
		}
	}
	return sub
}

// create is AdminCreateUser and SignUp. In a pool with UsernameAttributes
// the username given is an email (with an @) or a phone number (with a
// leading +): Cognito generates the username (the sub) and the attribute
// takes the value given. In doubt: whether Cognito fills a missing
// attribute from the username (filled here) and refuses a different one
// (refused here); whether an empty value is no attribute (it is here).
func (s *Service) create(ctx context.Context, op, poolID, username string, attrs map[string]string, status string) (out idmirror.User, err error) {
	err = s.do(ctx, Call{Op: op, Pool: poolID, Username: username, Write: true}, func(p *pool) error {
		if op == "SignUp" && p.opts.AdminCreateOnly {
			return fmt.Errorf("%s: %w: SignUp is not permitted for this user pool", op, ErrNotAuthorized)
		}
		if username == "" {
			return errorf(op, idmirror.ErrInvalid, "username is empty")
		}
		if err := p.checkAttrs(op, slices.Sorted(maps.Keys(attrs)), true); err != nil {
			return err
		}
		a := maps.Clone(attrs)
		maps.DeleteFunc(a, func(_, v string) bool { return v == "" })
		if a == nil {
			a = map[string]string{}
		}
		stored := username
		if len(p.opts.UsernameAttributes) > 0 {
			attr := ""
			for _, ua := range p.opts.UsernameAttributes {
				if ua == "email" && strings.Contains(username, "@") || ua == "phone_number" && strings.HasPrefix(username, "+") {
					attr = ua
				}
			}
			if v, ok := a[attr]; attr == "" || ok && p.key(v) != p.key(username) {
				return errorf(op, idmirror.ErrInvalid, "username %q should be the user's %v", username, p.opts.UsernameAttributes)
			}
			a[attr], stored = username, ""
		} else if p.users[p.key(username)] != nil {
			return errorf(op, idmirror.ErrExists, "user account already exists")
		}
		if err := p.valid(op, nil, a); err != nil {
			return err
		}
		sub, now := s.newSub(p), s.now().UTC()
		if stored == "" {
			stored = sub
		}
		u := &user{u: idmirror.User{PoolID: p.id, Sub: sub, Username: stored, Attributes: a, Status: status, Enabled: true, Created: now, Modified: now},
			groups: map[string]bool{}}
		p.users[p.key(stored)] = u
		out = u.view(false)
		return nil
	})
	if err != nil {
		return idmirror.User{}, err
	}
	return out, nil
}

// CreateUser is AdminCreateUser: the user is FORCE_CHANGE_PASSWORD and
// enabled, with a new sub, and is returned as Cognito made it (no groups,
// no MFA). ErrExists if the username (or the email or phone number it signs
// in with) is taken; ErrInvalid for sub, an attribute outside the schema or
// a missing required one. Invitations are not modelled: both modes create
// the same user.
func (s *Service) CreateUser(ctx context.Context, poolID, username string, attrs map[string]string, how cognito.Invitation) (idmirror.User, error) {
	return s.create(ctx, "AdminCreateUser", poolID, username, attrs, statusForceChange)
}

// SignUp is a user signing up: UNCONFIRMED until ConfirmSignUp.
// ErrNotAuthorized if the pool is AdminCreateOnly; otherwise as CreateUser.
func (s *Service) SignUp(ctx context.Context, poolID, username string, attrs map[string]string) error {
	_, err := s.create(ctx, "SignUp", poolID, username, attrs, statusUnconfirmed)
	return err
}

// onUser runs a write on one user (ErrNotFound if there is none).
func (s *Service) onUser(ctx context.Context, op, poolID, username string, f func(p *pool, u *user) error) error {
	return s.do(ctx, Call{Op: op, Pool: poolID, Username: username, Write: true}, func(p *pool) error {
		u, err := p.user(op, username)
		if err != nil {
			return err
		}
		return f(p, u)
	})
}

// touch records a change of the user (UserLastModifiedDate).
func (s *Service) touch(u *user) { u.u.Modified = s.now().UTC() }

func (s *Service) setStatus(u *user, status string) error {
	u.u.Status = status
	s.touch(u)
	return nil
}

// ConfirmSignUp confirms an UNCONFIRMED user. Cognito refuses any other
// status with NotAuthorizedException ("User cannot be confirmed. Current
// status is …"): ErrNotAuthorized.
func (s *Service) ConfirmSignUp(ctx context.Context, poolID, username string) error {
	return s.onUser(ctx, "ConfirmSignUp", poolID, username, func(p *pool, u *user) error {
		if u.u.Status != statusUnconfirmed {
			return fmt.Errorf("ConfirmSignUp: %w: user cannot be confirmed; current status is %s", ErrNotAuthorized, u.u.Status)
		}
		return s.setStatus(u, statusConfirmed)
	})
}

// DeleteUser is AdminDeleteUser: the user and its memberships are gone.
func (s *Service) DeleteUser(ctx context.Context, poolID, username string) error {
	return s.onUser(ctx, "AdminDeleteUser", poolID, username, func(p *pool, u *user) error {
		delete(p.users, p.key(u.u.Username))
		return nil
	})
}

// UpdateAttributes is AdminUpdateUserAttributes. A new email (phone_number)
// without email_verified (phone_number_verified) in the same call is
// unverified, as in Cognito (which sends a code). In doubt: an empty value
// removes the attribute.
func (s *Service) UpdateAttributes(ctx context.Context, poolID, username string, attrs map[string]string) error {
	const op = "AdminUpdateUserAttributes"
	return s.onUser(ctx, op, poolID, username, func(p *pool, u *user) error {
		if err := p.checkAttrs(op, slices.Sorted(maps.Keys(attrs)), false); err != nil {
			return err
		}
		next := maps.Clone(u.u.Attributes)
		maps.Copy(next, attrs)
		for _, a := range []string{"email", "phone_number"} {
			if _, given := attrs[a+"_verified"]; !given && next[a] != "" && next[a] != u.u.Attributes[a] {
				next[a+"_verified"] = "false"
			}
		}
		maps.DeleteFunc(next, func(_, v string) bool { return v == "" })
		return s.setAttributes(op, p, u, next)
	})
}

// DeleteAttributes is AdminDeleteUserAttributes: ErrInvalid for sub, a name
// outside the schema or a required attribute; in doubt, an immutable one.
func (s *Service) DeleteAttributes(ctx context.Context, poolID, username string, names []string) error {
	const op = "AdminDeleteUserAttributes"
	return s.onUser(ctx, op, poolID, username, func(p *pool, u *user) error {
		if err := p.checkAttrs(op, names, false); err != nil {
			return err
		}
		next := maps.Clone(u.u.Attributes)
		for _, name := range names {
			delete(next, name)
		}
		return s.setAttributes(op, p, u, next)
	})
}

func (s *Service) setAttributes(op string, p *pool, u *user, next map[string]string) error {
	if err := p.valid(op, u, next); err != nil || maps.Equal(next, u.u.Attributes) {
		return err
	}
	u.u.Attributes = next
	s.touch(u)
	return nil
}

// SetEnabled is AdminEnableUser or AdminDisableUser. In doubt: Modified
// moves only when the flag changes.
func (s *Service) SetEnabled(ctx context.Context, poolID, username string, enabled bool) error {
	op := map[bool]string{true: "AdminEnableUser", false: "AdminDisableUser"}[enabled]
	return s.onUser(ctx, op, poolID, username, func(p *pool, u *user) error {
		if u.u.Enabled != enabled {
			u.u.Enabled = enabled
			s.touch(u)
		}
		return nil
	})
}

// SetSMSMFA is AdminSetUserMFAPreference with SMS settings; not preferring
// (or disabling) SMS drops an SMS preference. In doubt: preferred without
// enabled is refused (ErrInvalid); no phone number is required; Modified
// moves when the settings change.
func (s *Service) SetSMSMFA(ctx context.Context, poolID, username string, enabled, preferred bool) error {
	const op = "AdminSetUserMFAPreference"
	return s.onUser(ctx, op, poolID, username, func(p *pool, u *user) error {
		if preferred && !enabled {
			return errorf(op, idmirror.ErrInvalid, "SMS MFA cannot be preferred while it is disabled")
		}
		m := u.u.MFA
		m.SMSEnabled = enabled
		if preferred {
			m.Preferred = mfaSMS
		} else if m.Preferred == mfaSMS {
			m.Preferred = ""
		}
		if m != u.u.MFA {
			u.u.MFA = m
			s.touch(u)
		}
		return nil
	})
}

// SetRandomPassword is AdminSetUserPassword with a permanent password: the
// user is CONFIRMED, whatever its status was.
func (s *Service) SetRandomPassword(ctx context.Context, poolID, username string) error {
	return s.onUser(ctx, "AdminSetUserPassword", poolID, username, func(p *pool, u *user) error { return s.setStatus(u, statusConfirmed) })
}

// ResetPassword is AdminResetUserPassword: the user is RESET_REQUIRED.
// Without a verified email or phone number to send the code to, Cognito
// refuses: cognito.ErrNoVerifiedContact (an ErrInvalid).
func (s *Service) ResetPassword(ctx context.Context, poolID, username string) error {
	const op = "AdminResetUserPassword"
	return s.onUser(ctx, op, poolID, username, func(p *pool, u *user) error {
		a := u.u.Attributes
		if a["email"] != "" && a["email_verified"] == "true" || a["phone_number"] != "" && a["phone_number_verified"] == "true" {
			return s.setStatus(u, statusResetReq)
		}
		return fmt.Errorf("%s: %w", op, cognito.ErrNoVerifiedContact)
	})
}

// SignIn is the user signing in with the right password (InitiateAuth,
// logged as a read, never faulted): it records the sign-in (LastSignIn). A
// FORCE_CHANGE_PASSWORD user gets ErrNewPasswordRequired (see
// CompleteNewPassword); a disabled, UNCONFIRMED or RESET_REQUIRED user gets
// ErrNotAuthorized.
func (s *Service) SignIn(ctx context.Context, poolID, username string) error {
	const op = "InitiateAuth"
	return s.do(ctx, Call{Op: op, Pool: poolID, Username: username}, func(p *pool) error {
		u, err := p.user(op, username)
		switch {
		case err != nil:
			return err
		case !u.u.Enabled:
			return fmt.Errorf("%s: %w: user is disabled", op, ErrNotAuthorized)
		case u.u.Status == statusForceChange:
			return fmt.Errorf("%s: %w", op, ErrNewPasswordRequired)
		case u.u.Status != statusConfirmed:
			return fmt.Errorf("%s: %w: user status is %s", op, ErrNotAuthorized, u.u.Status)
		}
		u.lastSignIn = s.now().UTC()
		return nil
	})
}

// CompleteNewPassword answers the NEW_PASSWORD_REQUIRED challenge
// (RespondToAuthChallenge): the FORCE_CHANGE_PASSWORD user sets a password,
// is CONFIRMED and signed in. ErrNotAuthorized for any other status or a
// disabled user.
func (s *Service) CompleteNewPassword(ctx context.Context, poolID, username string) error {
	const op = "RespondToAuthChallenge"
	return s.onUser(ctx, op, poolID, username, func(p *pool, u *user) error {
		if !u.u.Enabled || u.u.Status != statusForceChange {
			return fmt.Errorf("%s: %w: no new password challenge (status %s, enabled %v)", op, ErrNotAuthorized, u.u.Status, u.u.Enabled)
		}
		u.lastSignIn = s.now().UTC()
		return s.setStatus(u, statusConfirmed)
	})
}

// ListUsers streams every user of the pool (without groups or MFA, as
// Cognito's ListUsers), a page (a ListUsers call) at a time in username
// order; at is when the user's page was read.
func (s *Service) ListUsers(ctx context.Context, poolID string, fn func(u idmirror.User, at time.Time) error) error {
	return pageThrough(ctx, s, Call{Op: "ListUsers", Pool: poolID}, func(p *pool) ([]entry[idmirror.User], error) {
		var out []entry[idmirror.User]
		for _, u := range p.sortedUsers() {
			out = append(out, entry[idmirror.User]{p.key(u.u.Username), u.view(false)})
		}
		return out, nil
	}, fn)
}

// FindBySub returns the username of the user with that sub (ErrNotFound if
// none; ErrInvalid, uncalled, for a sub the adapter cannot filter on).
func (s *Service) FindBySub(ctx context.Context, poolID, sub string) (name string, err error) {
	if strings.ContainsAny(sub, `"\`) {
		return "", fmt.Errorf("%w: sub %q", idmirror.ErrInvalid, sub)
	}
	err = s.do(ctx, Call{Op: "ListUsers", Pool: poolID}, func(p *pool) error {
		for _, u := range p.users {
			if u.u.Sub == sub {
				name = u.u.Username
				return nil
			}
		}
		return fmt.Errorf("user with sub %s: %w", sub, idmirror.ErrNotFound)
	})
	return name, err
}

// GetUser reads one user fully (AdminGetUser, then AdminListGroupsForUser
// under the username it returned): attributes, status, MFA, sorted groups.
func (s *Service) GetUser(ctx context.Context, poolID, username string) (out idmirror.User, err error) {
	err = s.do(ctx, Call{Op: "AdminGetUser", Pool: poolID, Username: username}, func(p *pool) error {
		u, err := p.user("AdminGetUser", username)
		if err == nil {
			s.log("AdminListGroupsForUser", poolID, u.u.Username, s.pages(len(u.groups)))
			out = u.view(true)
		}
		return err
	})
	return out, err
}
