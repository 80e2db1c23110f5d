package restore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror"
)

// planFor reads the target's user (and, if there is one, what the mirror
// knows of it) and plans one mirrored user.
func (r *Restorer) planFor(ctx context.Context, s *setup, u idmirror.User) UserPlan {
	up, ok := targetKey(s, u)
	if !ok {
		return up
	}
	cur, ev, err := r.readTarget(ctx, s, up.Key)
	if err != nil {
		up.Action, up.Error = Failed, err.Error()
		return up
	}
	return planUser(s, up, cur, ev)
}

// readTarget reads the target's user under key (nil: none) and, for an
// existing one, the mirror's link of it and restore's intent for the key.
func (r *Restorer) readTarget(ctx context.Context, s *setup, key string) (*idmirror.User, evidence, error) {
	cur, err := r.target.GetUser(ctx, s.opt.TargetPool, key)
	switch {
	case errors.Is(err, idmirror.ErrNotFound):
		return nil, evidence{}, nil
	case err != nil:
		return nil, evidence{}, fmt.Errorf("read target user: %w", err)
	}
	var ev evidence
	rec, err := r.store.GetUser(ctx, s.opt.TargetPool, cur.Sub)
	switch {
	case err == nil:
		ev.link = rec.Origin
	case !errors.Is(err, idmirror.ErrNotFound):
		return nil, evidence{}, fmt.Errorf("read the mirror's record of the target user: %w", err)
	}
	in, err := r.store.Intent(ctx, s.opt.TargetPool, key)
	switch {
	case err == nil:
		ev.intent = &in
	case !errors.Is(err, idmirror.ErrNotFound):
		return nil, evidence{}, fmt.Errorf("read restore's intent for the target user: %w", err)
	}
	return &cur, ev, nil
}

// execute carries out a user's plan and records the restored user in the
// mirror, linked to its source entry.
func (r *Restorer) execute(ctx context.Context, s *setup, up UserPlan) UserResult {
	switch up.Action {
	case Skip, Failed:
		return up.Result()
	case Conflict:
		r.log.Warn("restore: the target holds an account restore cannot prove is the mirrored identity's; not written",
			zap.String("old_sub", up.User.Sub), zap.String("target_pool", s.opt.TargetPool), zap.String("key", up.Key), zap.String("why", up.Error))
		return up.Result()
	}
	res, err := r.steps(ctx, s, up)
	if err != nil {
		res.Action, res.Error = Failed, err.Error()
		r.log.Warn("restore of a user failed", zap.String("old_sub", up.User.Sub), zap.String("target_pool", s.opt.TargetPool), zap.Error(err))
	}
	return res
}

func (r *Restorer) steps(ctx context.Context, s *setup, up UserPlan) (UserResult, error) {
	pool := s.opt.TargetPool
	u := up.User
	res := up.Result()
	var cur idmirror.User
	if up.Target != nil {
		cur = *up.Target
	}
	if up.Proof == proofAdopted {
		r.log.Warn("restore: adopting an existing account on purpose (--adopt)", zap.String("old_sub", u.Sub), zap.String("target_pool", pool),
			zap.String("key", up.Key), zap.String("new_sub", cur.Sub))
	}
	// An account recognised by the intent alone (its creation's answer was
	// lost): record what the answer would have told.
	if in := up.Intent; in != nil && in.Sub == "" && up.Target != nil && up.Proof == proofIntent {
		in.Sub = cur.Sub
		if cur.Status == cognito.StatusForceChangePassword {
			in.Modified = cur.Modified
		}
		if err := r.store.PutIntent(ctx, *in); err != nil {
			return res, fmt.Errorf("record the intent: %w", err)
		}
	}
	status := cur.Status
	for i := 0; i < len(up.Steps); i++ {
		st := up.Steps[i]
		var err error
		switch st.Op {
		case OpCreate:
			in := mirror.Intent{Pool: pool, Username: up.Key, Origin: origin(s, u), Attributes: st.Attrs, At: r.now(),
				Reset: s.opt.PasswordMode == Reset && u.Enabled}
			if err := r.store.PutIntent(ctx, in); err != nil {
				return res, fmt.Errorf("record the intent before creating: %w", err)
			}
			how := cognito.Suppress
			if st.Invite {
				how = cognito.Invite
			}
			cur, err = r.target.CreateUser(ctx, pool, up.Key, st.Attrs, how)
			if errors.Is(err, idmirror.ErrExists) {
				// Made meanwhile: by this restore (a lost answer), or by
				// someone else. Plan again from what the target holds now;
				// a stranger's account is a conflict, left alone.
				c, ev, err := r.readTarget(ctx, s, up.Key)
				if err != nil {
					return res, fmt.Errorf("create: %w", err)
				}
				if c == nil {
					return res, fmt.Errorf("create: %w, yet the user cannot be read", idmirror.ErrExists)
				}
				up = planUser(s, up, c, ev)
				if up.Action == Conflict {
					r.log.Warn("restore: the account appeared under the user's name before restore could create it; not written",
						zap.String("old_sub", u.Sub), zap.String("target_pool", pool), zap.String("key", up.Key), zap.String("why", up.Error))
					return up.Result(), nil
				}
				return r.steps(ctx, s, up)
			}
			if err == nil {
				status = cur.Status
				in.Sub, in.Modified = cur.Sub, cur.Modified
				up.Intent = &in
				if err := r.store.PutIntent(ctx, in); err != nil {
					return res, fmt.Errorf("record the created user: %w", err)
				}
			}
		case OpResetPassword:
			var note string
			note, err = r.reset(ctx, s, up.Intent, cur.Username)
			if err == nil && note != "" {
				res.Notes = append(res.Notes, note)
			} else if err == nil {
				status = cognito.StatusResetRequired
			}
		case OpEnable, OpDisable:
			err = r.target.SetEnabled(ctx, pool, cur.Username, st.Op == OpEnable)
		case OpAttributes:
			err = r.target.UpdateAttributes(ctx, pool, cur.Username, st.Attrs)
		case OpDeleteAttributes:
			err = r.target.DeleteAttributes(ctx, pool, cur.Username, st.Names)
		case OpAddToGroup:
			err = r.target.AddToGroup(ctx, pool, cur.Username, st.Group)
		case OpRemoveFromGroup:
			err = r.target.RemoveFromGroup(ctx, pool, cur.Username, st.Group)
		case OpSMSMFA:
			err = r.target.SetSMSMFA(ctx, pool, cur.Username, st.SMS, st.Prefer)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", st, err)
		}
	}
	res.NewSub = cur.Sub
	restored := restoredUser(s, up, cur, status)
	note := fmt.Sprintf("restored from %s/%s as of %s", s.opt.SourcePool, u.Sub, s.asOf.UTC().Format("2006-01-02T15:04:05Z"))
	if up.Proof != "" {
		note += "; existing account: " + up.Proof
	}
	_, err := r.store.PutUser(ctx, idmirror.UserWrite{User: restored, Fields: idmirror.AllFields | idmirror.FieldOrigin,
		At: r.now(), Source: idmirror.SourceRestore, Note: note, Actor: s.opt.Actor})
	if err != nil {
		return res, fmt.Errorf("record in the mirror: %w", err)
	}
	return res, nil
}

// reset gives a user restore created a random password and resets it, so
// Cognito sends a code to the verified email or phone, recording each stage
// in the intent: a re-run finishes a reset only while the account is still
// as restore left it. A user without a verified contact keeps the random
// password (the note says so).
func (r *Restorer) reset(ctx context.Context, s *setup, in *mirror.Intent, username string) (note string, err error) {
	pool := s.opt.TargetPool
	if in == nil {
		return "", errors.New("no intent recorded for a reset")
	}
	in.ResetAt, in.PasswordModified = r.now(), time.Time{}
	if err := r.store.PutIntent(ctx, *in); err != nil {
		return "", fmt.Errorf("record the reset: %w", err)
	}
	if err := r.target.SetRandomPassword(ctx, pool, username); err != nil {
		return "", err
	}
	after, err := r.target.GetUser(ctx, pool, username)
	if err != nil {
		return "", fmt.Errorf("read the user after setting its password: %w", err)
	}
	in.PasswordModified = after.Modified
	if err := r.store.PutIntent(ctx, *in); err != nil {
		return "", fmt.Errorf("record the reset: %w", err)
	}
	err = r.target.ResetPassword(ctx, pool, username)
	if errors.Is(err, idmirror.ErrInvalid) {
		return "no verified email or phone: left with a random password; set one with AdminSetUserPassword", nil
	}
	return "", err
}

// restoredUser is the target's user once the plan is carried out, as the
// mirror records it: the attributes set and removed, the groups, the SMS
// preference restored and the TOTP the target's user already had (a created
// user has none).
func restoredUser(s *setup, up UserPlan, cur idmirror.User, status string) idmirror.User {
	u := up.User
	attrs := make(map[string]string, len(cur.Attributes)+len(u.Attributes))
	for k, v := range cur.Attributes {
		attrs[k] = v
	}
	for _, st := range up.Steps {
		switch st.Op {
		case OpCreate, OpAttributes:
			for k, v := range st.Attrs {
				attrs[k] = v
			}
		case OpDeleteAttributes:
			for _, k := range st.Names {
				delete(attrs, k)
			}
		}
	}
	mfa := idmirror.MFA{SMSEnabled: u.MFA.SMSEnabled, TOTPEnabled: cur.MFA.TOTPEnabled}
	switch {
	case u.MFA.Preferred == cognito.MFASMS:
		mfa.Preferred = cognito.MFASMS
	case cur.MFA.TOTPEnabled && cur.MFA.Preferred == cognito.MFASoftwareToken:
		mfa.Preferred = cognito.MFASoftwareToken
	}
	if federated(u) {
		mfa = cur.MFA
	}
	return idmirror.User{PoolID: s.opt.TargetPool, Sub: cur.Sub, Username: cur.Username, Attributes: attrs,
		Status: status, Enabled: u.Enabled, Groups: up.Groups, MFA: mfa,
		Created: cur.Created, Modified: cur.Modified, Origin: origin(s, u)}
}
