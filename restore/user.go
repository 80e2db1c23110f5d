package restore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
)

// user restores one user. Every step is decided from the target's current
// state, so a re-run after a crash carries on where the last one stopped.
func (r *Restorer) user(ctx context.Context, p *plan, u idmirror.User, dryRun bool) UserResult {
	res := UserResult{Username: u.Username, OldSub: u.Sub, Action: InPlace}
	switch u.Status {
	case "EXTERNAL_PROVIDER":
		res.Action, res.Notes = Skip, []string{"federated user: comes back at the next sign-in through its identity provider"}
		return res
	case "UNCONFIRMED":
		res.Action, res.Notes = Skip, []string{"was UNCONFIRMED: never finished signing up; they can sign up again"}
		return res
	}
	key := u.Username
	if !p.byUsername {
		key = u.Attributes[p.keyAttr]
		if key == "" {
			res.Action, res.Error = Failed, fmt.Sprintf("the pool signs in with %s, which this user does not have", p.keyAttr)
			return res
		}
	}
	if u.MFA.TOTPEnabled {
		res.Notes = append(res.Notes, "used TOTP MFA: must enrol an authenticator again (secrets cannot be exported)")
	}
	if err := r.apply(ctx, p, u, key, dryRun, &res); err != nil {
		res.Action, res.Error = Failed, err.Error()
		r.log.Warn("restore of a user failed", zap.String("old_sub", u.Sub), zap.String("target_pool", p.opt.TargetPool), zap.Error(err))
	}
	return res
}

// attributesFor returns the attributes to write: every attribute except
// sub, plus the legacy-sub attribute.
func attributesFor(p *plan, u idmirror.User) map[string]string {
	attrs := make(map[string]string, len(u.Attributes)+1)
	for k, v := range u.Attributes {
		if k == "sub" || strings.HasPrefix(k, "cognito:") {
			continue
		}
		attrs[k] = v
	}
	if p.opt.LegacySubAttribute != "" {
		attrs[p.opt.LegacySubAttribute] = u.Sub
	}
	return attrs
}

func (r *Restorer) apply(ctx context.Context, p *plan, u idmirror.User, key string, dryRun bool, res *UserResult) error {
	pool := p.opt.TargetPool
	want := attributesFor(p, u)
	step := func(s string) { res.Steps = append(res.Steps, s) }

	cur, err := r.target.GetUser(ctx, pool, key)
	created := false
	switch {
	case errors.Is(err, idmirror.ErrNotFound):
		res.Action = Create
		step("create")
		created = true
		cur = idmirror.User{PoolID: pool, Username: key, Enabled: true, Attributes: want}
		if !dryRun {
			how := cognito.Suppress
			if p.opt.PasswordMode == Invite && u.Enabled {
				how = cognito.Invite // a disabled user is never sent an invitation
			}
			made, err := r.target.CreateUser(ctx, pool, key, want, how)
			if errors.Is(err, idmirror.ErrExists) { // created by a run that died before recording it
				made, err = r.target.GetUser(ctx, pool, key)
				created = false
			}
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			cur = made
		}
	case err != nil:
		return fmt.Errorf("read target user: %w", err)
	}
	res.NewSub = cur.Sub

	// Disabled users are disabled at once: never enabled longer than this step.
	if cur.Enabled != u.Enabled {
		if !created {
			res.Action = Update
		}
		step(map[bool]string{true: "enable", false: "disable"}[u.Enabled])
		if !dryRun {
			if err := r.target.SetEnabled(ctx, pool, cur.Username, u.Enabled); err != nil {
				return fmt.Errorf("set enabled: %w", err)
			}
		}
		cur.Enabled = u.Enabled
	}

	if !created {
		if diff := r.attributeUpdates(p, cur.Attributes, want); len(diff) > 0 {
			res.Action = Update
			step("attributes " + strings.Join(sortedKeys(diff), ","))
			if !dryRun {
				if err := r.target.UpdateAttributes(ctx, pool, cur.Username, diff); err != nil {
					return fmt.Errorf("update attributes: %w", err)
				}
			}
		}
	}

	wantGroups := map[string]bool{}
	for _, g := range p.groups {
		if contains(u.Groups, g.Name) {
			wantGroups[g.Name] = true
		}
	}
	for _, g := range sortedKeys(wantGroups) {
		if contains(cur.Groups, g) {
			continue
		}
		if !created {
			res.Action = Update
		}
		step("add to " + g)
		if !dryRun {
			if err := r.target.AddToGroup(ctx, pool, cur.Username, g); err != nil {
				return fmt.Errorf("add to %s: %w", g, err)
			}
		}
	}
	for _, g := range cur.Groups {
		if !wantGroups[g] {
			res.Action = Update
			step("remove from " + g)
			if !dryRun {
				if err := r.target.RemoveFromGroup(ctx, pool, cur.Username, g); err != nil {
					return fmt.Errorf("remove from %s: %w", g, err)
				}
			}
		}
	}

	if u.MFA.SMSEnabled != cur.MFA.SMSEnabled || (u.MFA.Preferred == "SMS_MFA") != (cur.MFA.Preferred == "SMS_MFA") {
		if !created {
			res.Action = Update
		}
		step("sms-mfa " + map[bool]string{true: "on", false: "off"}[u.MFA.SMSEnabled])
		if !dryRun {
			if err := r.target.SetSMSMFA(ctx, pool, cur.Username, u.MFA.SMSEnabled, u.MFA.Preferred == "SMS_MFA"); err != nil {
				return fmt.Errorf("sms mfa: %w", err)
			}
		}
	}

	status := cur.Status
	if created && p.opt.PasswordMode == Reset && u.Enabled {
		step("reset password")
		if !dryRun {
			err := r.target.SetRandomPassword(ctx, pool, cur.Username)
			if err == nil {
				err = r.target.ResetPassword(ctx, pool, cur.Username)
			}
			switch {
			case errors.Is(err, idmirror.ErrInvalid):
				res.Notes = append(res.Notes, "no verified email or phone: left with a random password; set one with AdminSetUserPassword")
			case err != nil:
				return fmt.Errorf("reset password: %w", err)
			default:
				status = "RESET_REQUIRED"
			}
		}
	}
	if dryRun {
		return nil
	}

	// The mirror learns the restored user at once, linked to its source entry.
	restored := idmirror.User{PoolID: pool, Sub: cur.Sub, Username: cur.Username, Attributes: mergeAttrs(cur.Attributes, want),
		Status: status, Enabled: u.Enabled, Groups: sortedKeys(wantGroups),
		MFA:     idmirror.MFA{SMSEnabled: u.MFA.SMSEnabled, Preferred: smsPreferred(u.MFA)},
		Created: cur.Created, Modified: cur.Modified, Origin: p.opt.SourcePool + "/" + u.Sub}
	_, err = r.store.PutUser(ctx, idmirror.UserWrite{User: restored, Fields: idmirror.AllFields | idmirror.FieldOrigin,
		At: r.now(), Source: idmirror.SourceRestore,
		Note: fmt.Sprintf("restored from %s/%s as of %s", p.opt.SourcePool, u.Sub, p.asOf.UTC().Format("2006-01-02T15:04:05Z"))})
	if err != nil {
		return fmt.Errorf("record in the mirror: %w", err)
	}
	return nil
}

func smsPreferred(m idmirror.MFA) string {
	if m.Preferred == "SMS_MFA" {
		return m.Preferred
	}
	return ""
}

// attributeUpdates returns the attributes whose value differs and that the
// target lets us change (immutable ones can only be set at creation).
func (r *Restorer) attributeUpdates(p *plan, have, want map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range want {
		if have[k] == v {
			continue
		}
		if mutable, known := p.mutable[k]; known && !mutable {
			continue
		}
		out[k] = v
	}
	return out
}

func mergeAttrs(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
