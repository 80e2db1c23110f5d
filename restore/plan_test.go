package restore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/idmirror/idmirror"
)

func testSetup(mode PasswordMode) *setup {
	return &setup{opt: Options{SourcePool: "src", TargetPool: "dst", PasswordMode: mode}, byUsername: true,
		mutable: map[string]bool{"email": true, "custom:tenant": false},
		groups:  []idmirror.Group{{Name: "admins"}, {Name: "operators"}}}
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
	drifted.Attributes = map[string]string{"email": "evil@x", "custom:tenant": "t9"}
	drifted.Groups = []string{"operators"}
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
		{"absent, reset mode: reset after create", Reset, mirrored, nil, Create, "create; add to admins; sms-mfa on; reset password"},
		{"present and equal: nothing", Suppress, mirrored, &same, InPlace, ""},
		// custom:tenant is immutable in the target: only set at creation.
		{"present and drifted: mutable attributes and groups", Suppress, mirrored, &drifted, Update, "attributes email; add to admins; remove from operators"},
		{"present, reset mode: no reset of an account not created now", Reset, mirrored, &same, InPlace, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testSetup(c.mode)
			up, ok := targetKey(s, c.u)
			if !ok {
				t.Fatalf("targetKey refused: %+v", up)
			}
			up = planUser(s, up, c.cur)
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

func TestTargetKey(t *testing.T) {
	s := testSetup(Suppress)
	for status, want := range map[string]Action{"EXTERNAL_PROVIDER": Skip, "UNCONFIRMED": Skip} {
		if up, ok := targetKey(s, idmirror.User{Username: "x", Status: status}); ok || up.Action != want || len(up.Notes) == 0 {
			t.Errorf("%s: %+v %v", status, up, ok)
		}
	}
	s.byUsername, s.keyAttr = false, "email"
	if up, ok := targetKey(s, idmirror.User{Username: "x", Status: "CONFIRMED"}); ok || up.Action != Failed || !strings.Contains(up.Error, "email") {
		t.Errorf("email pool, no email: %+v", up)
	}
	if up, ok := targetKey(s, idmirror.User{Username: "x", Status: "CONFIRMED", Attributes: map[string]string{"email": "x@y"}}); !ok || up.Key != "x@y" {
		t.Errorf("email pool: %+v", up)
	}
}

func TestPlanGroup(t *testing.T) {
	p := int32(1)
	want := idmirror.Group{Name: "admins", Description: "a", Precedence: &p}
	if gp := planGroup(want, nil); gp.Action != Create {
		t.Fatalf("absent: %+v", gp)
	}
	if gp := planGroup(want, &want); gp.Action != InPlace || len(gp.Steps) != 0 {
		t.Fatalf("equal: %+v", gp)
	}
	other := want
	other.Description = "b"
	if gp := planGroup(want, &other); gp.Action != Update || gp.Steps[0] != "update description" {
		t.Fatalf("drifted: %+v", gp)
	}
}
