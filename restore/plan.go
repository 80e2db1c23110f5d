package restore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/idmirror/idmirror"
)

// Op is one kind of call restore makes to the target pool for a user.
type Op string

// The calls, in the order a plan makes them.
const (
	OpCreate          Op = "create"
	OpEnable          Op = "enable"
	OpDisable         Op = "disable"
	OpAttributes      Op = "attributes"
	OpAddToGroup      Op = "add to"
	OpRemoveFromGroup Op = "remove from"
	OpSMSMFA          Op = "sms-mfa"
	OpResetPassword   Op = "reset password"
)

// Step is one call of a user's plan.
type Step struct {
	Op     Op
	Group  string            // add to, remove from
	Attrs  map[string]string // create, attributes
	Invite bool              // create: Cognito sends an invitation with a temporary password
	SMS    bool              // sms-mfa: enabled
	Prefer bool              // sms-mfa: preferred
}

func (s Step) String() string {
	switch s.Op {
	case OpAttributes:
		return "attributes " + strings.Join(sortedKeys(s.Attrs), ",")
	case OpAddToGroup, OpRemoveFromGroup:
		return string(s.Op) + " " + s.Group
	case OpSMSMFA:
		return "sms-mfa " + map[bool]string{true: "on", false: "off"}[s.SMS]
	}
	return string(s.Op)
}

// UserPlan is what restore does for one mirrored user: a value, computed
// from the mirrored user and the target's current user alone, printed by a
// dry run and carried out by the executor.
type UserPlan struct {
	User   idmirror.User  // the mirrored user, as of the restore's instant
	Key    string         // its username in the target pool (or the email or phone it signs in with)
	Target *idmirror.User // the target's user under Key when planned (nil: none)
	Action Action
	Steps  []Step
	Groups []string // the target user's groups once the plan is carried out
	Notes  []string
	Error  string // a user that cannot be restored (Action Failed)
}

// Result is the plan as a report line.
func (up UserPlan) Result() UserResult {
	res := UserResult{Username: up.User.Username, OldSub: up.User.Sub, Action: up.Action, Notes: up.Notes, Error: up.Error}
	if up.Target != nil {
		res.NewSub = up.Target.Sub
	}
	for _, s := range up.Steps {
		res.Steps = append(res.Steps, s.String())
	}
	return res
}

// targetKey decides whether a mirrored user is restored at all, and under
// which sign-in name; a plan that is already final (skip, failed) is returned
// with ok false.
func targetKey(s *setup, u idmirror.User) (up UserPlan, ok bool) {
	up = UserPlan{User: u, Action: InPlace}
	switch u.Status {
	case "EXTERNAL_PROVIDER":
		up.Action, up.Notes = Skip, []string{"federated user: comes back at the next sign-in through its identity provider"}
		return up, false
	case "UNCONFIRMED":
		up.Action, up.Notes = Skip, []string{"was UNCONFIRMED: never finished signing up; they can sign up again"}
		return up, false
	}
	up.Key = u.Username
	if !s.byUsername {
		up.Key = u.Attributes[s.keyAttr]
		if up.Key == "" {
			up.Action, up.Error = Failed, fmt.Sprintf("the pool signs in with %s, which this user does not have", s.keyAttr)
			return up, false
		}
	}
	if u.MFA.TOTPEnabled {
		up.Notes = append(up.Notes, "used TOTP MFA: must enrol an authenticator again (secrets cannot be exported)")
	}
	return up, true
}

// planUser completes up (from targetKey) against cur, the target's user
// under up.Key (nil: none): every step is decided from the target's current
// state, so a re-run after a crash carries on where the last one stopped.
func planUser(s *setup, up UserPlan, cur *idmirror.User) UserPlan {
	u := up.User
	want := attributesFor(s, u)
	up.Target, up.Steps, up.Action = cur, nil, InPlace
	changed := func() {
		if up.Action != Create {
			up.Action = Update
		}
	}
	have := cur
	if cur == nil {
		up.Action = Create
		// A disabled user is never sent an invitation.
		up.Steps = append(up.Steps, Step{Op: OpCreate, Attrs: want, Invite: s.opt.PasswordMode == Invite && u.Enabled})
		have = &idmirror.User{Username: up.Key, Enabled: true, Attributes: want}
	}
	// Disabled users are disabled at once: never enabled longer than this step.
	if have.Enabled != u.Enabled {
		changed()
		up.Steps = append(up.Steps, Step{Op: map[bool]Op{true: OpEnable, false: OpDisable}[u.Enabled]})
	}
	if cur != nil {
		if diff := attributeUpdates(s, cur.Attributes, want); len(diff) > 0 {
			changed()
			up.Steps = append(up.Steps, Step{Op: OpAttributes, Attrs: diff})
		}
	}
	wantGroups := map[string]bool{}
	for _, g := range s.groups {
		if contains(u.Groups, g.Name) {
			wantGroups[g.Name] = true
		}
	}
	up.Groups = sortedKeys(wantGroups)
	for _, g := range up.Groups {
		if !contains(have.Groups, g) {
			changed()
			up.Steps = append(up.Steps, Step{Op: OpAddToGroup, Group: g})
		}
	}
	for _, g := range have.Groups {
		if !wantGroups[g] {
			changed()
			up.Steps = append(up.Steps, Step{Op: OpRemoveFromGroup, Group: g})
		}
	}
	if u.MFA.SMSEnabled != have.MFA.SMSEnabled || (u.MFA.Preferred == "SMS_MFA") != (have.MFA.Preferred == "SMS_MFA") {
		changed()
		up.Steps = append(up.Steps, Step{Op: OpSMSMFA, SMS: u.MFA.SMSEnabled, Prefer: u.MFA.Preferred == "SMS_MFA"})
	}
	if cur == nil && s.opt.PasswordMode == Reset && u.Enabled {
		up.Steps = append(up.Steps, Step{Op: OpResetPassword})
	}
	return up
}

// attributesFor returns the attributes to write: every attribute except
// sub, plus the legacy-sub attribute.
func attributesFor(s *setup, u idmirror.User) map[string]string {
	attrs := make(map[string]string, len(u.Attributes)+1)
	for k, v := range u.Attributes {
		if k == "sub" || strings.HasPrefix(k, "cognito:") {
			continue
		}
		attrs[k] = v
	}
	if s.opt.LegacySubAttribute != "" {
		attrs[s.opt.LegacySubAttribute] = u.Sub
	}
	return attrs
}

// attributeUpdates returns the attributes whose value differs and that the
// target lets us change (immutable ones can only be set at creation).
func attributeUpdates(s *setup, have, want map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range want {
		if have[k] == v {
			continue
		}
		if mutable, known := s.mutable[k]; known && !mutable {
			continue
		}
		out[k] = v
	}
	return out
}

// GroupPlan is what restore does for one group.
type GroupPlan struct {
	Group  idmirror.Group // as the target should hold it
	Action Action
	Steps  []string
}

// planGroup compares the mirrored group with the target's (nil: none).
func planGroup(want idmirror.Group, cur *idmirror.Group) GroupPlan {
	gp := GroupPlan{Group: want, Action: InPlace}
	if cur == nil {
		gp.Action, gp.Steps = Create, []string{"create"}
		return gp
	}
	c := *cur
	c.Deleted = false
	if changes := changedFields(c.Fields(), want.Fields()); len(changes) > 0 {
		gp.Action, gp.Steps = Update, []string{"update " + strings.Join(changes, ",")}
	}
	return gp
}

func changedFields(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if a[k] != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
