package restore

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror"
)

// Op is one kind of call restore makes to the target pool for a user.
type Op string

// The calls, in the order a plan makes them.
const (
	OpCreate           Op = "create"
	OpResetPassword    Op = "reset password"
	OpEnable           Op = "enable"
	OpDisable          Op = "disable"
	OpAttributes       Op = "attributes"
	OpDeleteAttributes Op = "delete attributes"
	OpAddToGroup       Op = "add to"
	OpRemoveFromGroup  Op = "remove from"
	OpSMSMFA           Op = "sms-mfa"
)

// Step is one call of a user's plan.
type Step struct {
	Op     Op
	Group  string            // add to, remove from
	Attrs  map[string]string // create, attributes
	Names  []string          // delete attributes
	Invite bool              // create: Cognito sends an invitation with a temporary password
	SMS    bool              // sms-mfa: enabled
	Prefer bool              // sms-mfa: preferred
}

func (s Step) String() string {
	switch s.Op {
	case OpAttributes:
		return "attributes " + strings.Join(sortedKeys(s.Attrs), ",")
	case OpDeleteAttributes:
		return "delete attributes " + strings.Join(s.Names, ",")
	case OpAddToGroup, OpRemoveFromGroup:
		return string(s.Op) + " " + s.Group
	case OpSMSMFA:
		return "sms-mfa " + map[bool]string{true: "on", false: "off"}[s.SMS]
	}
	return string(s.Op)
}

// UserPlan is what restore does for one mirrored user: a value, computed
// from the mirrored user, the target's current user and what the mirror
// knows of it (evidence) alone, printed by a dry run and carried out by the
// executor.
type UserPlan struct {
	User   idmirror.User  // the mirrored user, as of the restore's instant
	Key    string         // its username in the target pool (or the email or phone it signs in with)
	Target *idmirror.User // the target's user under Key when planned (nil: none)
	// Proof says why an existing target user is the mirrored identity's
	// (empty when restore creates it, or for a conflict).
	Proof  string
	Intent *mirror.Intent // restore's intent for Key, if one was recorded
	Action Action
	Steps  []Step
	Groups []string // the target user's groups once the plan is carried out
	Notes  []string
	Error  string // a user that cannot be restored (Failed), or why it is a Conflict
}

// Result is the plan as a report line.
func (up UserPlan) Result() UserResult {
	res := UserResult{Username: up.User.Username, OldSub: up.User.Sub, Action: up.Action, Notes: up.Notes, Error: up.Error}
	if up.Target != nil && up.Action != Conflict {
		res.NewSub = up.Target.Sub
	}
	for _, s := range up.Steps {
		res.Steps = append(res.Steps, s.String())
	}
	return res
}

// origin is the link a restored user carries to its mirrored identity.
func origin(s *setup, u idmirror.User) string { return s.opt.SourcePool + "/" + u.Sub }

// federated reports a user who signs in through an external identity provider.
func federated(u idmirror.User) bool { return u.Status == cognito.StatusExternalProvider }

// targetKey decides whether a mirrored user is restored at all, and under
// which sign-in name; a plan that is already final (skip, failed) is returned
// with ok false.
func targetKey(s *setup, u idmirror.User) (up UserPlan, ok bool) {
	up = UserPlan{User: u, Action: InPlace}
	switch {
	case s.ambiguous[u.Sub]:
		up.Action, up.Notes = Skip, []string{"another mirrored account had this sign-in name then, and the mirror does not know which Cognito created later: restore the right one with --user sub:SUB"}
		return up, false
	case s.superseded[u.Sub]:
		up.Action, up.Notes = Skip, []string{"superseded: a newer account held this sign-in name then (the mirror had not yet seen this one's deletion)"}
		return up, false
	}
	if u.Status == cognito.StatusUnconfirmed {
		up.Action, up.Notes = Skip, []string{"was UNCONFIRMED: never finished signing up; they can sign up again"}
		return up, false
	}
	up.Key = u.Username
	if !s.byUsername && !federated(u) {
		// A pool that signs in with an email or a phone number: the first
		// of them the user has, in the pool's order.
		up.Key = ""
		for _, a := range s.keyAttrs {
			if up.Key = u.Attributes[a]; up.Key != "" {
				break
			}
		}
		if up.Key == "" {
			up.Action, up.Error = Failed, fmt.Sprintf("the pool signs in with %s, which this user does not have", strings.Join(s.keyAttrs, " or "))
			return up, false
		}
	}
	if u.MFA.TOTPEnabled {
		up.Notes = append(up.Notes, "used TOTP MFA: must enrol an authenticator again (secrets cannot be exported)")
	}
	return up, true
}

// evidence is what the mirror knows of the target's user under a key: the
// origin link of the mirror's record of it (by its sub) and restore's
// recorded intent for the key.
type evidence struct {
	link   string
	intent *mirror.Intent
}

// The proofs that an existing target user is the mirrored identity's.
const (
	proofSameSub   = "same sub"
	proofLinked    = "linked in the mirror"
	proofCreated   = "created by restore (recorded)"
	proofIdentity  = "same identity-provider identity"
	proofLegacySub = "legacy sub, which no app client can write, on an account made after restore's intent"
	proofIntent    = "created by restore (intent)"
	proofAdopted   = "adopted on purpose (--adopt)"
)

// intentSlack absorbs Cognito's creation dates (whole seconds on some
// endpoints) and a little clock skew between restore's host and Cognito when
// an account is recognised by the intent recorded just before it was made.
const intentSlack = 2 * time.Second

// intentWindow bounds how long after its intent an account restore made can
// have been created: AdminCreateUser follows the intent at once, paced (a
// throttled category can make it wait). An account made later under the name
// is someone else's doing, however alike.
const intentWindow = 15 * time.Minute

// ownership decides whether the target's existing user cur is the mirrored
// identity's. It returns the proof, or "" and why not. Only these prove it:
// the same sub; the mirror's link (the origin a previous run recorded, or the
// sub AdminCreateUser answered to the intent); the same identity at the same
// external identity provider; and, only where users cannot sign themselves
// up, the legacy-sub attribute when no app client can write it, or an account
// created just after restore recorded its intent (within intentWindow) that
// holds exactly the attributes restore sent (a run that died before linking
// it, or a lost answer to AdminCreateUser).
func ownership(s *setup, up UserPlan, cur *idmirror.User, ev evidence) (proof, why string) {
	u, orig := up.User, origin(s, up.User)
	in := ev.intent
	if in != nil && in.Origin != orig {
		in = nil
	}
	switch {
	case cur.Sub != "" && cur.Sub == u.Sub:
		return proofSameSub, ""
	case ev.link == orig:
		return proofLinked, ""
	case in != nil && in.Sub != "" && in.Sub == cur.Sub:
		return proofCreated, ""
	case sameIdentity(u.Attributes["identities"], cur.Attributes["identities"]):
		return proofIdentity, ""
	}
	var reasons []string
	reasons = append(reasons, fmt.Sprintf("the target's user %s (sub %s, created %s) is not the mirrored identity (sub %s) and the mirror does not link it",
		up.Key, cur.Sub, cur.Created.UTC().Format(time.RFC3339), u.Sub))
	if !s.target.AdminCreateOnly {
		reasons = append(reasons, "users can sign themselves up to the target pool, so only the sub, the mirror's link or an identity-provider identity prove an account restore's")
		return "", strings.Join(reasons, "; ")
	}
	if l := s.opt.LegacySubAttribute; l != "" && cur.Attributes[l] == u.Sub {
		// Old subs are not secret, and "no client can write it" says only
		// what holds now: a stranger may have set it while the pool was
		// open. So it counts only for an account created after this
		// restore recorded its intent for the user.
		switch {
		case !s.legacyProof:
			reasons = append(reasons, fmt.Sprintf("its %s holds the old sub, but an app client can write %s", l, l))
		case in == nil || (in.Sub != "" && in.Sub != cur.Sub) || cur.Created.Before(in.At.Add(-intentSlack)) || cur.Created.After(in.At.Add(intentWindow)):
			reasons = append(reasons, fmt.Sprintf("its %s holds the old sub, but the account was not made just after restore's intent (the value may have been written while anyone could)", l))
		default:
			return proofLegacySub, ""
		}
	}
	switch {
	case in == nil:
		reasons = append(reasons, "restore never recorded an intent to create it")
	case in.Sub != "":
		reasons = append(reasons, fmt.Sprintf("restore created another account under this name (sub %s)", in.Sub))
	case cur.Created.Before(in.At.Add(-intentSlack)):
		reasons = append(reasons, fmt.Sprintf("it was created before restore recorded its intent (%s)", in.At.UTC().Format(time.RFC3339)))
	case cur.Created.After(in.At.Add(intentWindow)):
		reasons = append(reasons, fmt.Sprintf("it was created long after restore recorded its intent (%s)", in.At.UTC().Format(time.RFC3339)))
	case !sameAttributes(cur.Attributes, in.Attributes):
		reasons = append(reasons, "it does not hold the attributes restore sent")
	default:
		return proofIntent, ""
	}
	return "", strings.Join(reasons, "; ")
}

// sameIdentity reports whether two `identities` attributes (Cognito's JSON
// list of linked identity-provider identities) share one (provider, user id).
func sameIdentity(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	type identity struct {
		ProviderName string `json:"providerName"`
		UserID       string `json:"userId"`
	}
	var as, bs []identity
	if json.Unmarshal([]byte(a), &as) != nil || json.Unmarshal([]byte(b), &bs) != nil {
		return false
	}
	for _, x := range as {
		for _, y := range bs {
			if x.ProviderName != "" && x.UserID != "" && x == y {
				return true
			}
		}
	}
	return false
}

func sameAttributes(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// planUser completes up (from targetKey) against cur, the target's user
// under up.Key (nil: none), and what the mirror knows of it: every step is
// decided from the target's current state and the recorded intent, so a
// re-run after a crash carries on where the last one stopped. An existing
// user that is not provably the mirrored identity's is a Conflict: nothing
// is planned for it.
func planUser(s *setup, up UserPlan, cur *idmirror.User, ev evidence) UserPlan {
	u := up.User
	up.Target, up.Intent, up.Steps, up.Action, up.Proof = cur, ev.intent, nil, InPlace, ""
	if up.Intent != nil && up.Intent.Origin != origin(s, u) {
		up.Intent = nil
	}
	if cur == nil && federated(u) {
		up.Action = Skip
		up.Notes = append(up.Notes, fmt.Sprintf("federated user (%s): Cognito creates it at its first sign-in through the identity provider; "+
			"then run restore again (--user %s) to bring back its groups and attributes", providers(u.Attributes["identities"]), u.Username))
		return up
	}
	if cur != nil {
		proof, why := ownership(s, up, cur, ev)
		if proof == "" && (s.adopt[u.Username] || s.adopt[up.Key]) {
			proof = proofAdopted
			up.Notes = append(up.Notes, "adopted on purpose (--adopt): "+why)
		}
		if proof == "" {
			up.Action, up.Error = Conflict, why
			up.Notes = append(up.Notes, fmt.Sprintf("nothing was written to this account. If it is not %s's, delete it (Cognito usernames cannot be renamed) and run again; "+
				"if it is, run again with --adopt %s", u.Username, u.Username))
			return up
		}
		up.Proof = proof
	}
	want := attributesFor(s, u)
	changed := func() {
		if up.Action != Create {
			up.Action = Update
		}
	}
	have := cur
	reset := false
	if cur == nil {
		up.Action = Create
		// A disabled user is never sent an invitation, nor a reset.
		up.Steps = append(up.Steps, Step{Op: OpCreate, Attrs: want, Invite: s.opt.PasswordMode == Invite && u.Enabled})
		have = &idmirror.User{Username: up.Key, Enabled: true, Attributes: want}
		reset = s.opt.PasswordMode == Reset && u.Enabled
	} else if restoreMade(up.Proof, up.Intent, cur) && pendingReset(s, u, cur, up.Intent) {
		reset = true
		changed()
		up.Notes = append(up.Notes, "the reset of a previous run was not sent: sending it")
	}
	// The reset comes first, while the account is exactly as created.
	if reset {
		up.Steps = append(up.Steps, Step{Op: OpResetPassword})
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
		// A federated user's identity provider owns the attributes it maps.
		if gone := attributeRemovals(s, u, cur.Attributes, want); len(gone) > 0 && !federated(u) {
			changed()
			up.Steps = append(up.Steps, Step{Op: OpDeleteAttributes, Names: gone})
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
	if !federated(u) && (u.MFA.SMSEnabled != have.MFA.SMSEnabled || (u.MFA.Preferred == cognito.MFASMS) != (have.MFA.Preferred == cognito.MFASMS)) {
		changed()
		up.Steps = append(up.Steps, Step{Op: OpSMSMFA, SMS: u.MFA.SMSEnabled, Prefer: u.MFA.Preferred == cognito.MFASMS})
	}
	if id := u.Attributes["identities"]; id != "" && !federated(u) && cur == nil {
		up.Notes = append(up.Notes, fmt.Sprintf("was linked to %s: link it again (AdminLinkProviderForUser); Cognito alone writes identities", providers(id)))
	}
	return up
}

// restoreMade reports whether an existing account is one restore created:
// only such an account may get a reset a run left pending.
func restoreMade(proof string, in *mirror.Intent, cur *idmirror.User) bool {
	switch proof {
	case proofCreated, proofIntent:
		return true
	case proofLinked:
		return in != nil && in.Sub == cur.Sub
	}
	return false
}

// pendingReset reports whether a reset restore was to send (the run that
// created the account was in --password-mode reset) is still to be sent, and
// may be: the account is exactly as restore left it, so nobody has signed in
// or reset since. FORCE_CHANGE_PASSWORD with restore's temporary password
// (nobody knows it) unchanged since creation; or CONFIRMED with the random
// password restore set on the way to the reset, unchanged since. A user in
// RESET_REQUIRED has the reset; any other state is the user's own doing.
func pendingReset(s *setup, u idmirror.User, cur *idmirror.User, in *mirror.Intent) bool {
	if s.opt.PasswordMode != Reset || !u.Enabled || in == nil || (in.Sub != "" && in.Sub != cur.Sub) || (!in.Reset && in.ResetAt.IsZero()) {
		return false
	}
	switch cur.Status {
	case cognito.StatusForceChangePassword:
		return in.Modified.IsZero() || cur.Modified.Equal(in.Modified)
	case cognito.StatusConfirmed:
		// Restore set a random password (ResetAt); until it recorded the
		// account's modification date right after, nobody was sent anything.
		return !in.ResetAt.IsZero() && (in.PasswordModified.IsZero() || cur.Modified.Equal(in.PasswordModified))
	}
	return false
}

// providers names the identity providers of an `identities` attribute.
func providers(identities string) string {
	var ids []struct {
		ProviderName string `json:"providerName"`
	}
	_ = json.Unmarshal([]byte(identities), &ids)
	var names []string
	for _, id := range ids {
		if id.ProviderName != "" {
			names = append(names, id.ProviderName)
		}
	}
	if len(names) == 0 {
		return "an identity provider"
	}
	return strings.Join(names, ", ")
}

// managed reports attributes Cognito writes itself: never sent, never removed.
func managed(name string) bool {
	return name == "sub" || name == "identities" || strings.HasPrefix(name, "cognito:")
}

// attributesFor returns the attributes to write: every attribute except
// those Cognito manages, plus the legacy-sub attribute.
func attributesFor(s *setup, u idmirror.User) map[string]string {
	attrs := make(map[string]string, len(u.Attributes)+1)
	for k, v := range u.Attributes {
		if managed(k) {
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
// target lets us change (immutable ones can only be set at creation). An
// email or phone number goes with its verified flag, and the flag with it:
// a changed address is otherwise left unverified, and Cognito (cognito-local
// too) wants the address with the flag.
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
	for _, pair := range [][2]string{{"email", "email_verified"}, {"phone_number", "phone_number_verified"}} {
		_, a := out[pair[0]]
		_, f := out[pair[1]]
		if a || f {
			for _, k := range pair {
				if v, ok := want[k]; ok {
					out[k] = v
				}
			}
		}
	}
	return out
}

// attributeRemovals returns the attributes the target's user has and the
// mirrored user did not have (at the restore's instant): those Cognito
// manages, immutable and required ones stay, and so does an attribute
// holding the user's old sub (the legacy-sub attribute of an earlier run).
func attributeRemovals(s *setup, u idmirror.User, have, want map[string]string) []string {
	var out []string
	for k, v := range have {
		if _, ok := want[k]; ok || managed(k) || s.required[k] || v == u.Sub {
			continue
		}
		if mutable, known := s.mutable[k]; known && !mutable {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// GroupPlan is what restore does for one group.
type GroupPlan struct {
	Group   idmirror.Group  // as the target should hold it
	Current *idmirror.Group // as the target holds it when planned (nil: absent)
	Action  Action
	Steps   []string
	Notes   []string
}

// planGroup compares the mirrored group with the target's (nil: none). A
// restore of named users (keep) creates a missing group but never changes an
// existing one: it reports the difference.
func planGroup(want idmirror.Group, cur *idmirror.Group, keep bool) GroupPlan {
	gp := GroupPlan{Group: want, Current: cur, Action: InPlace}
	if cur == nil {
		gp.Action, gp.Steps = Create, []string{"create"}
		return gp
	}
	c := *cur
	c.Deleted = false
	if changes := changedFields(c.Fields(), want.Fields()); len(changes) > 0 {
		if keep {
			gp.Notes = []string{"differs from the mirror (" + strings.Join(changes, ",") + "): left as it is, as a --user restore never changes an existing group"}
			return gp
		}
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
