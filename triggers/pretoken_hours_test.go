package triggers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/security"
	"github.com/idmirror/idmirror/triggers"
)

const (
	adminArn    = "arn:aws:iam::123456789012:role/backoffice-admin"
	operatorArn = "arn:aws:iam::123456789012:role/backoffice-operator"
	auditorArn  = "arn:aws:iam::123456789012:role/backoffice-auditor"
)

// hoursHandler is a pre-token handler under policy rules (on the default
// role map) whose clock reads now, with its security events captured.
type hoursHandler struct {
	h       *triggers.PreToken
	logs    *observer.ObservedLogs
	metrics *bytes.Buffer
}

func newHoursHandler(t *testing.T, extra string, now time.Time) hoursHandler {
	t.Helper()
	js := `{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri"],"start":"08:00","end":"19:00"` + extra + `}`
	p, err := triggers.ParseAccessHours([]byte(js), idmirror.DefaultRoleMap())
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	var metrics bytes.Buffer
	h, err := triggers.NewPreToken(idmirror.DefaultRoleMap(), nil, triggers.PreTokenOptions{
		Hours: p, Security: security.New(zap.New(core), &metrics, "pre-token"), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return hoursHandler{h, logs, &metrics}
}

// events returns the security events logged, as their stable fields.
func (hh hoursHandler) events() []map[string]any {
	var out []map[string]any
	for _, e := range hh.logs.FilterMessage("security event").All() {
		m := e.ContextMap()
		delete(m, security.FieldAt)
		out = append(out, m)
	}
	return out
}

func (hh hoursHandler) metricKinds(t *testing.T) []string {
	t.Helper()
	var kinds []string
	for _, line := range bytes.Split(bytes.TrimSpace(hh.metrics.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m struct{ Kind, Role string }
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("EMF line: %v: %s", err, line)
		}
		kinds = append(kinds, m.Kind+"/"+m.Role)
	}
	return kinds
}

var (
	monNoon  = time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC) // 12:00 in Paris
	monNight = time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC) // 23:00 in Paris
)

// Within hours the answer is byte for byte the answer without a policy, and
// nothing is reported.
func TestPreTokenWithinHoursIsUnchanged(t *testing.T) {
	hh := newHoursHandler(t, `,"roles":{"admin":{"outside":"deny"},"operator":{"outside":"alert"}}`, monNoon)
	for _, name := range []string{"pretoken-v1.json", "pretoken-v2.json", "pretoken-v3-admin.json", "pretoken-v2-outsider.json"} {
		want, err := invoke(t, newPreToken(t), golden(t, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := invoke(t, hh.h, golden(t, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: within hours answered %s, %v; want %s", name, got, err, want)
		}
	}
	if ev := hh.events(); len(ev) != 0 {
		t.Errorf("events within hours: %v", ev)
	}
}

// deny: the trigger fails, so Cognito issues no token; the event says who and why.
func TestPreTokenDeniesOutsideHours(t *testing.T) {
	hh := newHoursHandler(t, `,"roles":{"admin":{"outside":"deny"}}`, monNight)
	out, err := invoke(t, hh.h, golden(t, "pretoken-v1.json"))
	if !errors.Is(err, triggers.ErrOutsideHours) {
		t.Fatalf("answer %s, err %v; want the token refused", out, err)
	}
	want := []map[string]any{{"security_event": "out_of_hours_deny", "emitter": "pre-token", "pool_id": "eu-west-1_EXAMPLE",
		"role": "admin", "sub": "a36036a8-9061-424d-a737-56d57dae7bc6", "source": "trigger", "detail": "TokenGeneration_Authentication; admin deny"}}
	if got := hh.events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %v\nwant %v", got, want)
	}
	if got := hh.metricKinds(t); !reflect.DeepEqual(got, []string{"out_of_hours_deny/admin"}) {
		t.Errorf("metrics = %v", got)
	}
	// An operator has no rule: allowed, silently.
	if _, err := invoke(t, hh.h, golden(t, "pretoken-v2.json")); err != nil {
		t.Fatalf("operator: %v", err)
	}
	if n := len(hh.events()); n != 1 {
		t.Errorf("an allowed operator raised events: %d", n)
	}
}

// alert: the token is the one issued within hours, and an event is logged.
func TestPreTokenAlertsOutsideHours(t *testing.T) {
	hh := newHoursHandler(t, `,"roles":{"operator":{"outside":"alert"}}`, monNight)
	want, _ := invoke(t, newPreToken(t), golden(t, "pretoken-v2.json"))
	got, err := invoke(t, hh.h, golden(t, "pretoken-v2.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("alert answered %s, %v; want %s", got, err, want)
	}
	ev := hh.events()
	if len(ev) != 1 || ev[0]["security_event"] != "out_of_hours_alert" || ev[0]["role"] != "operator" ||
		ev[0]["sub"] != "b1f2c3d4-0000-4000-8000-000000000002" || ev[0]["detail"] != "TokenGeneration_RefreshTokens; operator alert" {
		t.Fatalf("events = %v", ev)
	}
}

// downgrade, V1: the claims and the groups (cognito:groups, IAM roles) lose
// the admin role; the operator role the groups also give stays, under its own
// rule (alert). One event per token: the strongest action, every rule in its detail.
func TestPreTokenDowngradesV1(t *testing.T) {
	hh := newHoursHandler(t, `,"roles":{"admin":{"outside":"downgrade","floor":"operator"},"operator":{"outside":"alert"}}`, monNight)
	out, err := invoke(t, hh.h, golden(t, "pretoken-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := response(t, out)["claimsOverrideDetails"]
	want := map[string]any{
		"claimsToAddOrOverride": map[string]any{"roles": "operator", "role": "operator"},
		"groupOverrideDetails":  map[string]any{"groupsToOverride": []any{"operators"}, "iamRolesToOverride": []any{}, "preferredRole": nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("V1 downgrade = %v\nwant %v", got, want)
	}
	ev := hh.events()
	if len(ev) != 1 || ev[0]["security_event"] != "out_of_hours_downgrade" || ev[0]["role"] != "admin" ||
		ev[0]["detail"] != "TokenGeneration_Authentication; admin downgrade to operator; operator alert; highest role kept operator" {
		t.Fatalf("events = %v", ev)
	}
}

// downgrade, V2 with IAM roles on groups: claims, scopes (added and
// suppressed), groups, IAM roles and the preferred role all follow. The shape
// is Cognito's (groupOverrideDetails beside the token sections); cognito-local
// ignores it, so only this test checks it.
func TestPreTokenDowngradesV2WithIAMRoles(t *testing.T) {
	arns := `,"groupIamRoles":{"admins":"` + adminArn + `","operators":"` + operatorArn + `","auditors":"` + auditorArn + `"}`
	hh := newHoursHandler(t, `,"roles":{"admin":{"outside":"downgrade","floor":"operator"}}`+arns, monNight)
	out, err := invoke(t, hh.h, golden(t, "pretoken-v2-iam-roles.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := response(t, out)["claimsAndScopeOverrideDetails"]
	claims := map[string]any{"roles": []any{"operator"}, "role": "operator"}
	want := map[string]any{
		"idTokenGeneration": map[string]any{"claimsToAddOrOverride": claims},
		"accessTokenGeneration": map[string]any{"claimsToAddOrOverride": claims, "scopesToAdd": []any{"backoffice/everyday"},
			"scopesToSuppress": []any{"backoffice/personal-data"}},
		"groupOverrideDetails": map[string]any{"groupsToOverride": []any{"operators", "auditors"},
			"iamRolesToOverride": []any{operatorArn, auditorArn}, "preferredRole": nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("V2 downgrade = %v\nwant %v", got, want)
	}

	// Without groupIamRoles no role ARN can be attributed to a kept group: all are withheld.
	bare := newHoursHandler(t, `,"roles":{"admin":{"outside":"downgrade","floor":"operator"}}`, monNight)
	out, err = invoke(t, bare.h, golden(t, "pretoken-v2-iam-roles.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := response(t, out)["claimsAndScopeOverrideDetails"].(map[string]any)["groupOverrideDetails"]
	if !reflect.DeepEqual(g, map[string]any{"groupsToOverride": []any{"operators", "auditors"}, "iamRolesToOverride": []any{}, "preferredRole": nil}) {
		t.Fatalf("groups without groupIamRoles = %v", g)
	}

	// The preferred role stays when its group does.
	keep := newHoursHandler(t, `,"roles":{"admin":{"outside":"downgrade","floor":"operator"}}`+arns, monNight)
	ev := strings.Replace(string(golden(t, "pretoken-v2-iam-roles.json")), `"preferredRole": "`+adminArn, `"preferredRole": "`+operatorArn, 1)
	out, err = invoke(t, keep.h, []byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	g = response(t, out)["claimsAndScopeOverrideDetails"].(map[string]any)["groupOverrideDetails"]
	if p := g.(map[string]any)["preferredRole"]; p != operatorArn {
		t.Fatalf("preferred role = %v, want %s", p, operatorArn)
	}
}

// A downgrade that leaves no role: no role claim, no scope, the admin group gone.
func TestPreTokenDowngradeToNothing(t *testing.T) {
	hh := newHoursHandler(t, `,"roles":{"admin":{"outside":"downgrade","floor":"operator"}}`, monNight)
	ev := strings.Replace(string(golden(t, "pretoken-v3-admin.json")), `["admins", "operators"]`, `["admins"]`, 1)
	out, err := invoke(t, hh.h, []byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	got := response(t, out)["claimsAndScopeOverrideDetails"]
	want := map[string]any{
		"idTokenGeneration":     map[string]any{},
		"accessTokenGeneration": map[string]any{"scopesToSuppress": []any{"backoffice/everyday", "backoffice/personal-data"}},
		"groupOverrideDetails":  map[string]any{"groupsToOverride": []any{}, "iamRolesToOverride": []any{}, "preferredRole": nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("downgrade to nothing = %v\nwant %v", got, want)
	}
	if e := hh.events(); len(e) != 1 || !strings.HasSuffix(e[0]["detail"].(string), "highest role kept none") {
		t.Fatalf("events = %v", e)
	}
}

// Machines (client credentials) and outsiders are outside the policy.
func TestPreTokenPolicyLeavesMachinesAndOutsidersAlone(t *testing.T) {
	hh := newHoursHandler(t, `,"roles":{"admin":{"outside":"deny"},"operator":{"outside":"deny"}}`, monNight)
	for _, name := range []string{"pretoken-v3-client-credentials.json", "pretoken-v2-outsider.json"} {
		in := golden(t, name)
		out, err := hh.h.Invoke(context.Background(), in)
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: %s, %v; want the event unchanged", name, out, err)
		}
	}
	if e := hh.events(); len(e) != 0 {
		t.Errorf("events = %v", e)
	}
}
