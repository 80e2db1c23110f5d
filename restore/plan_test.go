package restore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror"
)

func testSetup(mode PasswordMode) *setup {
	return &setup{opt: Options{SourcePool: "src", TargetPool: "dst", PasswordMode: mode}, byUsername: true,
		target:  idmirror.PoolConfig{PoolID: "dst", AdminCreateOnly: true},
		mutable: map[string]bool{"email": true, "custom:tenant": false}, required: map[string]bool{}, adopt: map[string]bool{},
		groups: []idmirror.Group{{Name: "admins"}, {Name: "operators"}}}
}

func steps(up UserPlan) string {
	var s []string
	for _, st := range up.Steps {
		s = append(s, st.String())
	}
	return strings.Join(s, "; ")
}

func TestPlanUser(t *testing.T) {
	mirrored := idmirror.User{Sub: "old", Username: "ann", Status: "CONFIRMED", Enabled: true,
		Attributes: map[string]string{"email": "ann@x", "custom:tenant": "t1"}, Groups: []string{"admins", "gone-group"},
		MFA: idmirror.MFA{SMSEnabled: true, Preferred: "SMS_MFA"}}
	disabled := mirrored
	disabled.Enabled = false
	same := idmirror.User{Sub: "new", Username: "ann", Enabled: true, Attributes: map[string]string{"email": "ann@x", "custom:tenant": "t1"},
		Groups: []string{"admins"}, MFA: idmirror.MFA{SMSEnabled: true, Preferred: "SMS_MFA"}}
	drifted := same
	drifted.Attributes = map[string]string{"email": "evil@x", "custom:tenant": "t9", "given_name": "Later"}
	drifted.Groups = []string{"operators"}
	linked := evidence{link: "src/old"}
	for _, c := range []struct {
		name   string
		mode   PasswordMode
		u      idmirror.User
		cur    *idmirror.User
		action Action
		steps  string
	}{
		{"absent: create, groups the mirror holds, sms", Suppress, mirrored, nil, Create, "create; add to admins; sms-mfa on"},
		{"absent and disabled: disabled at once, never invited", Invite, disabled, nil, Create, "create; disable; add to admins; sms-mfa on"},
		{"absent, reset mode: reset right after create", Reset, mirrored, nil, Create, "create; reset password; add to admins; sms-mfa on"},
		{"absent, disabled, reset mode: no reset", Reset, disabled, nil, Create, "create; disable; add to admins; sms-mfa on"},
		{"present and equal: nothing", Suppress, mirrored, &same, InPlace, ""},
		// custom:tenant is immutable in the target: only set at creation;
		// given_name was added after the restore's instant: removed.
		{"present and drifted: mutable attributes, later attributes, groups", Suppress, mirrored, &drifted, Update,
			"attributes email; delete attributes given_name; add to admins; remove from operators"},
		{"present, reset mode: no reset of an account without an intent", Reset, mirrored, &same, InPlace, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testSetup(c.mode)
			up, ok := targetKey(s, c.u)
			if !ok {
				t.Fatalf("targetKey refused: %+v", up)
			}
			up = planUser(s, up, c.cur, linked)
			if up.Action != c.action || steps(up) != c.steps {
				t.Fatalf("plan: %s [%s], want %s [%s]", up.Action, steps(up), c.action, c.steps)
			}
			if fmt.Sprint(up.Groups) != "[admins]" {
				t.Fatalf("groups after: %v", up.Groups)
			}
			if c.cur == nil && up.Steps[0].Invite != (c.mode == Invite && c.u.Enabled) {
				t.Fatalf("invite = %v", up.Steps[0].Invite)
			}
		})
	}
}

// The adopt decision: which existing accounts are the mirrored identity's.
func TestOwnership(t *testing.T) {
	created := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	u := idmirror.User{Sub: "old", Username: "ann", Status: "CONFIRMED", Enabled: true, Attributes: map[string]string{"email": "ann@x"}}
	sent := map[string]string{"email": "ann@x"}
	stranger := idmirror.User{Sub: "s1", Username: "ann", Enabled: true, Attributes: map[string]string{"email": "ann@x"}, Created: created}
	withLegacy := stranger
	withLegacy.Attributes = map[string]string{"email": "ann@x", "custom:legacy_sub": "old"}
	intent := func(at time.Time, sub string, attrs map[string]string) evidence {
		return evidence{intent: &mirror.Intent{Pool: "dst", Username: "ann", Origin: "src/old", At: at, Sub: sub, Attributes: attrs}}
	}
	for _, c := range []struct {
		name      string
		cur       idmirror.User
		ev        evidence
		open      bool // users can sign themselves up (--allow-open-signup)
		legacy    bool // no app client can write custom:legacy_sub
		adopt     bool
		wantProof bool
	}{
		{"same sub", idmirror.User{Sub: "old", Username: "ann", Created: created}, evidence{}, true, false, false, true},
		{"linked in the mirror", stranger, evidence{link: "src/old"}, true, false, false, true},
		{"linked to another identity", stranger, evidence{link: "src/other"}, false, false, false, false},
		{"created by restore, answer recorded", stranger, intent(created, "s1", sent), true, false, false, true},
		{"nothing", stranger, evidence{}, false, false, false, false},
		{"intent recorded before it was created, same attributes", stranger, intent(created.Add(-time.Second), "", sent), false, false, false, true},
		{"... but sign-up is open", stranger, intent(created.Add(-time.Second), "", sent), true, false, false, false},
		{"created before the intent", stranger, intent(created.Add(time.Minute), "", sent), false, false, false, false},
		{"created long after the intent", stranger, intent(created.Add(-time.Hour), "", sent), false, false, false, false},
		{"other attributes", stranger, intent(created, "", map[string]string{"email": "ann@x", "given_name": "Ann"}), false, false, false, false},
		{"restore created another account", stranger, intent(created, "s0", sent), false, false, false, false},
		{"an intent for another identity", stranger, evidence{intent: &mirror.Intent{Origin: "src/other", At: created.Add(-time.Second), Attributes: sent}}, false, false, false, false},
		// Review finding: a stranger who signed up while the pool was open and
		// copied the (not secret) old sub is not restore's; the legacy sub
		// counts only on an account made after restore's intent.
		{"legacy sub nobody can write, no intent", withLegacy, evidence{}, false, true, false, false},
		{"legacy sub nobody can write, account older than the intent", withLegacy, intent(created.Add(time.Hour), "", map[string]string{"x": "y"}), false, true, false, false},
		{"legacy sub nobody can write, made after the intent", withLegacy, intent(created.Add(-time.Second), "", map[string]string{"email": "other"}), false, true, false, true},
		// Second review: an old intent whose create failed does not make any later account restore's.
		{"legacy sub nobody can write, made long after the intent", withLegacy, intent(created.Add(-48*time.Hour), "", map[string]string{"email": "other"}), false, true, false, false},
		{"legacy sub a client can write", withLegacy, evidence{}, false, false, false, false},
		{"legacy sub, sign-up open", withLegacy, evidence{}, true, true, false, false},
		{"--adopt", stranger, evidence{}, true, false, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testSetup(Suppress)
			s.target.AdminCreateOnly = !c.open
			s.opt.LegacySubAttribute = "custom:legacy_sub"
			s.legacyProof = c.legacy
			if c.adopt {
				s.adopt["ann"] = true
			}
			up, _ := targetKey(s, u)
			cur := c.cur
			up = planUser(s, up, &cur, c.ev)
			if got := up.Action != Conflict; got != c.wantProof {
				t.Fatalf("adopted = %v, want %v: %+v", got, c.wantProof, up)
			}
			if !c.wantProof && (len(up.Steps) != 0 || up.Error == "" || !strings.Contains(strings.Join(up.Notes, " "), "--adopt ann")) {
				t.Fatalf("a conflict plans nothing and says why and what to do: %+v", up)
			}
			if c.adopt && !strings.Contains(strings.Join(up.Notes, " "), "--adopt") {
				t.Fatalf("an adoption on purpose is noted: %+v", up)
			}
		})
	}
}

// Federated users: Cognito creates them at their first sign-in through the
// identity provider; restore cannot. (cognito-local has no identity
// providers: this decision logic is what the local stack cannot show end to
// end; restore/partial_test.go runs it with a stand-in account.)
func TestPlanFederatedUser(t *testing.T) {
	ids := `[{"userId":"1234","providerName":"Google","providerType":"Google","primary":true}]`
	u := idmirror.User{Sub: "old", Username: "Google_1234", Status: "EXTERNAL_PROVIDER", Enabled: true, Groups: []string{"admins"},
		Attributes: map[string]string{"email": "fed@x", "identities": ids}}
	s := testSetup(Reset)
	up, ok := targetKey(s, u)
	if !ok || up.Key != "Google_1234" {
		t.Fatalf("targetKey: %+v %v", up, ok)
	}
	absent := planUser(s, up, nil, evidence{})
	if absent.Action != Skip || !strings.Contains(strings.Join(absent.Notes, " "), "--user Google_1234") || len(absent.Steps) != 0 {
		t.Fatalf("federated, not signed in yet: %+v", absent)
	}
	// Signed in again through Google: the same identity, a new sub. Its
	// groups and attributes come back; never a password reset.
	back := idmirror.User{Sub: "new", Username: "Google_1234", Status: "EXTERNAL_PROVIDER", Enabled: true,
		Attributes: map[string]string{"email": "fed@x", "identities": ids}}
	got := planUser(s, up, &back, evidence{})
	if got.Action != Update || steps(got) != "add to admins" || got.Proof == "" {
		t.Fatalf("federated, signed in again: %s [%s] proof %q", got.Action, steps(got), got.Proof)
	}
	// The same username at another identity: a conflict.
	other := back
	other.Attributes = map[string]string{"identities": `[{"userId":"9999","providerName":"Google"}]`}
	if got := planUser(s, up, &other, evidence{}); got.Action != Conflict {
		t.Fatalf("another identity: %+v", got)
	}
	// A native user linked to an identity comes back without it (Cognito
	// alone writes identities), with a note.
	native := u
	native.Status, native.Username = "CONFIRMED", "ann"
	up, _ = targetKey(s, native)
	created := planUser(s, up, nil, evidence{})
	if _, sent := created.Steps[0].Attrs["identities"]; sent || !strings.Contains(strings.Join(created.Notes, " "), "AdminLinkProviderForUser") {
		t.Fatalf("linked native user: %+v", created)
	}
}

// A reset is re-sent only to an account exactly as restore left it.
func TestPendingReset(t *testing.T) {
	created := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	pw := created.Add(time.Second)
	u := idmirror.User{Sub: "old", Username: "ann", Enabled: true}
	for _, c := range []struct {
		name   string
		status string
		mod    time.Time
		in     *mirror.Intent
		want   bool
	}{
		{"created, nothing since", "FORCE_CHANGE_PASSWORD", created, &mirror.Intent{Sub: "new", Modified: created, Reset: true}, true},
		{"created, answer lost", "FORCE_CHANGE_PASSWORD", created, &mirror.Intent{Reset: true}, true},
		{"created by a run in another mode", "FORCE_CHANGE_PASSWORD", created, &mirror.Intent{Sub: "new", Modified: created}, false},
		{"created, changed since (a temporary password set by hand)", "FORCE_CHANGE_PASSWORD", pw, &mirror.Intent{Sub: "new", Modified: created, Reset: true}, false},
		{"random password set, not yet recorded", "CONFIRMED", pw, &mirror.Intent{Sub: "new", Modified: created, ResetAt: pw}, true},
		{"random password set and recorded", "CONFIRMED", pw, &mirror.Intent{Sub: "new", Modified: created, ResetAt: pw, PasswordModified: pw}, true},
		{"reset sent", "RESET_REQUIRED", pw, &mirror.Intent{Sub: "new", Modified: created, ResetAt: pw, PasswordModified: pw}, false},
		{"reset since by the user", "CONFIRMED", pw.Add(time.Hour), &mirror.Intent{Sub: "new", Modified: created, ResetAt: pw, PasswordModified: pw}, false},
		{"signed in after an invitation", "CONFIRMED", pw, &mirror.Intent{Sub: "new", Modified: created, Reset: true}, false},
		{"another account", "FORCE_CHANGE_PASSWORD", created, &mirror.Intent{Sub: "other", Modified: created, Reset: true}, false},
		{"no intent", "FORCE_CHANGE_PASSWORD", created, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cur := &idmirror.User{Sub: "new", Status: c.status, Modified: c.mod, Enabled: true}
			if got := pendingReset(testSetup(Reset), u, cur, c.in); got != c.want {
				t.Fatalf("pending = %v, want %v", got, c.want)
			}
			if pendingReset(testSetup(Invite), u, cur, c.in) {
				t.Fatal("only --password-mode reset resets")
			}
		})
	}
}

func TestTargetKey(t *testing.T) {
	s := testSetup(Suppress)
	if up, ok := targetKey(s, idmirror.User{Username: "x", Status: "UNCONFIRMED"}); ok || up.Action != Skip || len(up.Notes) == 0 {
		t.Errorf("UNCONFIRMED: %+v %v", up, ok)
	}
	s.byUsername, s.keyAttrs = false, []string{"email"}
	if up, ok := targetKey(s, idmirror.User{Username: "x", Status: "CONFIRMED"}); ok || up.Action != Failed || !strings.Contains(up.Error, "email") {
		t.Errorf("email pool, no email: %+v", up)
	}
	if up, ok := targetKey(s, idmirror.User{Username: "x", Status: "CONFIRMED", Attributes: map[string]string{"email": "x@y"}}); !ok || up.Key != "x@y" {
		t.Errorf("email pool: %+v", up)
	}
	// Pools that sign in with an email or a phone number: either.
	s.keyAttrs = []string{"email", "phone_number"}
	if up, ok := targetKey(s, idmirror.User{Username: "x", Status: "CONFIRMED", Attributes: map[string]string{"phone_number": "+1555"}}); !ok || up.Key != "+1555" {
		t.Errorf("email or phone pool, phone only: %+v", up)
	}
	if up, ok := targetKey(s, idmirror.User{Username: "x", Status: "CONFIRMED", Attributes: map[string]string{"phone_number": "+1555", "email": "x@y"}}); !ok || up.Key != "x@y" {
		t.Errorf("email or phone pool, both: %+v", up)
	}
}

func TestPlanGroup(t *testing.T) {
	p := int32(1)
	want := idmirror.Group{Name: "admins", Description: "a", Precedence: &p}
	if gp := planGroup(want, nil, false); gp.Action != Create {
		t.Fatalf("absent: %+v", gp)
	}
	if gp := planGroup(want, nil, true); gp.Action != Create {
		t.Fatalf("absent, --user: %+v", gp)
	}
	if gp := planGroup(want, &want, false); gp.Action != InPlace || len(gp.Steps) != 0 {
		t.Fatalf("equal: %+v", gp)
	}
	other := want
	other.Description = "b"
	if gp := planGroup(want, &other, false); gp.Action != Update || gp.Steps[0] != "update description" {
		t.Fatalf("drifted: %+v", gp)
	}
	if gp := planGroup(want, &other, true); gp.Action != InPlace || len(gp.Steps) != 0 || !strings.Contains(strings.Join(gp.Notes, " "), "description") {
		t.Fatalf("drifted, --user: %+v", gp)
	}
}

// Names the target would fold together are found before anything is written.
func TestNameCollisions(t *testing.T) {
	user := func(name string, attrs ...string) idmirror.User {
		u := idmirror.User{Username: name, Sub: "sub-" + name, Attributes: map[string]string{}}
		for i := 0; i+1 < len(attrs); i += 2 {
			u.Attributes[attrs[i]] = attrs[i+1]
		}
		return u
	}
	no := false
	insensitive := idmirror.PoolConfig{CaseSensitive: &no, AliasAttributes: []string{"email"}}
	n := newNameIndex(insensitive)
	n.add("Alice", user("Alice"))
	n.add("alice", user("alice"))
	n.add("bob", user("bob", "email", "Bob@x", "email_verified", "true"))
	n.add("rob", user("rob", "email", "bob@x", "email_verified", "true"))
	n.add("cy", user("cy", "email", "bob@X", "email_verified", "false")) // unverified: no alias
	c := n.collisions()
	if len(c) != 2 || !strings.Contains(c[0], `"Alice"`) || !strings.Contains(c[0], `"alice"`) || !strings.Contains(c[1], "user bob") || !strings.Contains(c[1], "user rob") {
		t.Fatalf("collisions: %q", c)
	}
	sensitive := newNameIndex(idmirror.PoolConfig{})
	sensitive.add("Alice", user("Alice"))
	sensitive.add("alice", user("alice"))
	if c := sensitive.collisions(); len(c) != 0 {
		t.Fatalf("a case-sensitive target: %q", c)
	}
}

// Only an account restore created gets a reset a run left pending: not one
// adopted on purpose, even under an intent restore recorded for the name.
func TestAdoptedAccountIsNotReset(t *testing.T) {
	created := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	u := idmirror.User{Sub: "old", Username: "ann", Status: "CONFIRMED", Enabled: true, Attributes: map[string]string{"email": "ann@x"}}
	byHand := idmirror.User{Sub: "s1", Username: "ann", Status: "FORCE_CHANGE_PASSWORD", Enabled: true, Created: created, Modified: created,
		Attributes: map[string]string{"email": "ann@x", "given_name": "Ann"}}
	in := &mirror.Intent{Origin: "src/old", At: created.Add(time.Minute), Reset: true, Attributes: map[string]string{"email": "ann@x"}}
	s := testSetup(Reset)
	s.adopt["ann"] = true
	up, _ := targetKey(s, u)
	got := planUser(s, up, &byHand, evidence{intent: in})
	if got.Proof != proofAdopted || strings.Contains(steps(got), "reset") {
		t.Fatalf("adopted: proof %q, steps [%s]", got.Proof, steps(got))
	}
	// The same account made by restore (the intent's proof): reset.
	made := byHand
	made.Attributes, made.Created = map[string]string{"email": "ann@x"}, in.At
	s.adopt = map[string]bool{}
	if got := planUser(s, up, &made, evidence{intent: in}); got.Proof != proofIntent || !strings.Contains(steps(got), "reset password") {
		t.Fatalf("made by restore: proof %q, steps [%s]", got.Proof, steps(got))
	}
}
