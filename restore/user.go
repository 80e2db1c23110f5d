package restore

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
)

// planFor reads the target's user and plans one mirrored user.
func (r *Restorer) planFor(ctx context.Context, s *setup, u idmirror.User) UserPlan {
	up, ok := targetKey(s, u)
	if !ok {
		return up
	}
	cur, err := r.target.GetUser(ctx, s.opt.TargetPool, up.Key)
	switch {
	case errors.Is(err, idmirror.ErrNotFound):
		return planUser(s, up, nil)
	case err != nil:
		up.Action, up.Error = Failed, fmt.Errorf("read target user: %w", err).Error()
		return up
	}
	return planUser(s, up, &cur)
}

// execute carries out a user's plan and records the restored user in the
// mirror, linked to its source entry.
func (r *Restorer) execute(ctx context.Context, s *setup, up UserPlan) UserResult {
	if up.Action == Skip || up.Action == Failed {
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
	status := cur.Status
	for i := 0; i < len(up.Steps); i++ {
		st := up.Steps[i]
		var err error
		switch st.Op {
		case OpCreate:
			how := cognito.Suppress
			if st.Invite {
				how = cognito.Invite
			}
			cur, err = r.target.CreateUser(ctx, pool, up.Key, st.Attrs, how)
			if errors.Is(err, idmirror.ErrExists) {
				// Made by a run that died before recording it: plan the rest
				// again from what the target holds now.
				if cur, err = r.target.GetUser(ctx, pool, up.Key); err != nil {
					return res, fmt.Errorf("create: %w", err)
				}
				up = planUser(s, up, &cur)
				res = up.Result()
				i = -1
				continue
			}
			status = cur.Status
		case OpEnable, OpDisable:
			err = r.target.SetEnabled(ctx, pool, cur.Username, st.Op == OpEnable)
		case OpAttributes:
			err = r.target.UpdateAttributes(ctx, pool, cur.Username, st.Attrs)
		case OpAddToGroup:
			err = r.target.AddToGroup(ctx, pool, cur.Username, st.Group)
		case OpRemoveFromGroup:
			err = r.target.RemoveFromGroup(ctx, pool, cur.Username, st.Group)
		case OpSMSMFA:
			err = r.target.SetSMSMFA(ctx, pool, cur.Username, st.SMS, st.Prefer)
		case OpResetPassword:
			err = r.target.SetRandomPassword(ctx, pool, cur.Username)
			if err == nil {
				err = r.target.ResetPassword(ctx, pool, cur.Username)
			}
			if errors.Is(err, idmirror.ErrInvalid) {
				res.Notes = append(res.Notes, "no verified email or phone: left with a random password; set one with AdminSetUserPassword")
				err = nil
			} else if err == nil {
				status = "RESET_REQUIRED"
			}
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", st, err)
		}
	}
	res.NewSub = cur.Sub

	restored := idmirror.User{PoolID: pool, Sub: cur.Sub, Username: cur.Username, Attributes: mergeAttrs(cur.Attributes, attributesFor(s, u)),
		Status: status, Enabled: u.Enabled, Groups: up.Groups,
		MFA:     idmirror.MFA{SMSEnabled: u.MFA.SMSEnabled, Preferred: smsPreferred(u.MFA)},
		Created: cur.Created, Modified: cur.Modified, Origin: s.opt.SourcePool + "/" + u.Sub}
	_, err := r.store.PutUser(ctx, idmirror.UserWrite{User: restored, Fields: idmirror.AllFields | idmirror.FieldOrigin,
		At: r.now(), Source: idmirror.SourceRestore,
		Note: fmt.Sprintf("restored from %s/%s as of %s", s.opt.SourcePool, u.Sub, s.asOf.UTC().Format("2006-01-02T15:04:05Z"))})
	if err != nil {
		return res, fmt.Errorf("record in the mirror: %w", err)
	}
	return res, nil
}

func smsPreferred(m idmirror.MFA) string {
	if m.Preferred == "SMS_MFA" {
		return m.Preferred
	}
	return ""
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
