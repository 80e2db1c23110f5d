package aws_test

import (
	"strings"
	"testing"

	"github.com/idmirror/idmirror/security"
	idsync "github.com/idmirror/idmirror/sync"
)

// Every security event kind the code emits that must tell someone has an
// alarm on exactly the metric the code writes (namespace, name, dimension
// set), and so do the operational failures; each alarm notifies the alert
// topic. The values come from the code's constants, so renaming a kind or a
// metric without its alarm fails here.
func TestSecurityAndFailureAlarms(t *testing.T) {
	res := load(t, "identity.yaml").get("Resources")
	type want struct {
		ns, metric string
		dims       map[string]string // name -> value ("" = a Ref, checked by refTo)
		refTo      string            // the Ref a dimension value must be
		threshold  string            // a literal, or the parameter it must Ref
		op         string
	}
	kind := func(k security.Kind) map[string]string { return map[string]string{"Kind": string(k)} }
	cases := map[string]want{
		"PrivilegedGrantAlarm":      {security.Namespace, security.MetricName, map[string]string{"Kind": string(security.RoleGranted), "Role": ""}, "PrivilegedRole", "1", "GreaterThanOrEqualToThreshold"},
		"RoleGrantsAlarm":           {security.Namespace, security.MetricName, kind(security.RoleGranted), "", "RoleGrantsPerHour", "GreaterThanThreshold"},
		"RoleMapChangedAlarm":       {security.Namespace, security.MetricName, kind(security.RoleMapChanged), "", "1", "GreaterThanOrEqualToThreshold"},
		"GroupChangedAlarm":         {security.Namespace, security.MetricName, kind(security.GroupChanged), "", "1", "GreaterThanOrEqualToThreshold"},
		"PrivilegedDisabledAlarm":   {security.Namespace, security.MetricName, kind(security.PrivilegedDisabled), "", "1", "GreaterThanOrEqualToThreshold"},
		"PrivilegedEnabledAlarm":    {security.Namespace, security.MetricName, kind(security.PrivilegedEnabled), "", "1", "GreaterThanOrEqualToThreshold"},
		"MassDeletionStoppedAlarm":  {security.Namespace, security.MetricName, kind(security.MassDeletionStopped), "", "1", "GreaterThanOrEqualToThreshold"},
		"RestoreRanAlarm":           {security.Namespace, security.MetricName, kind(security.RestoreRan), "", "1", "GreaterThanOrEqualToThreshold"},
		"OutOfHoursDeniedAlarm":     {security.Namespace, security.MetricName, kind(security.OutOfHoursDenied), "", "OutOfHoursDenialsPerHour", "GreaterThanThreshold"},
		"OutOfHoursAccessAlarm":     {security.Namespace, security.MetricName, kind(security.OutOfHoursAllowed), "", "1", "GreaterThanOrEqualToThreshold"},
		"MirrorWriteFailuresAlarm":  {"idmirror", "MirrorWriteFailures", map[string]string{"Function": "post-confirmation"}, "", "1", "GreaterThanOrEqualToThreshold"},
		"ReconcileDriftAlarm":       {"idmirror", idsync.MetricDrift, map[string]string{"Function": "reconcile"}, "", "1", "GreaterThanOrEqualToThreshold"},
		"ReconcileFailedUsersAlarm": {"idmirror", idsync.MetricFailedUsers, map[string]string{"Function": "reconcile"}, "", "1", "GreaterThanOrEqualToThreshold"},
		"ReconcileErrorsAlarm":      {"AWS/Lambda", "Errors", map[string]string{"FunctionName": ""}, "ReconcileFunction", "1", "GreaterThanOrEqualToThreshold"},
	}
	for name, w := range cases {
		a := res.get(name)
		if a.get("Type").str() != "AWS::CloudWatch::Alarm" {
			t.Errorf("%s: no alarm", name)
			continue
		}
		p := a.get("Properties")
		if p.get("Namespace").str() != w.ns || p.get("MetricName").str() != w.metric {
			t.Errorf("%s: metric %s/%s, want %s/%s", name, p.get("Namespace").str(), p.get("MetricName").str(), w.ns, w.metric)
		}
		dims := p.get("Dimensions").items()
		if len(dims) != len(w.dims) {
			t.Errorf("%s: %d dimensions, want %d (an alarm matches one dimension set exactly)", name, len(dims), len(w.dims))
		}
		for _, d := range dims {
			want, ok := w.dims[d.get("Name").str()]
			switch {
			case !ok:
				t.Errorf("%s: unexpected dimension %s", name, d.get("Name").str())
			case want == "" && !mentions(d.get("Value").n, w.refTo):
				t.Errorf("%s: dimension %s is not %s", name, d.get("Name").str(), w.refTo)
			case want != "" && d.get("Value").str() != want:
				t.Errorf("%s: dimension %s = %q, want %q", name, d.get("Name").str(), d.get("Value").str(), want)
			}
		}
		th := p.get("Threshold")
		if th.str() != w.threshold && !mentions(th.n, w.threshold) {
			t.Errorf("%s: threshold %s, want %s", name, nodeText(th.n), w.threshold)
		}
		if p.get("ComparisonOperator").str() != w.op || p.get("TreatMissingData").str() != "notBreaching" {
			t.Errorf("%s: %s / %s", name, p.get("ComparisonOperator").str(), p.get("TreatMissingData").str())
		}
		if !mentions(p.get("AlarmActions").n, "AlertTopic") {
			t.Errorf("%s: does not notify AlertTopic", name)
		}
	}
	// The refresh classifies grants with the same role map the pre-token trigger uses.
	env := res.get("RefreshFunction", "Properties", "Environment", "Variables")
	if !mentions(env.get("ROLE_MAP").n, "RoleMap") {
		t.Error("RefreshFunction has no ROLE_MAP: its security events could not name roles")
	}
}

// Switching off the mirror's protections (PITR, deletion protection),
// deleting the table, and deleting or reconfiguring the pool each alert the
// topic at once, and the topic lets those rules publish.
func TestProtectionChangesAlert(t *testing.T) {
	res := load(t, "identity.yaml").get("Resources")
	for name, want := range map[string]struct {
		source, eventSource, param, ref string
		events                          []string
	}{
		"MirrorTableChangeRule": {"aws.dynamodb", "dynamodb.amazonaws.com", "tableName", "MirrorTable", []string{"UpdateContinuousBackups", "UpdateTable", "DeleteTable"}},
		"UserPoolChangeRule":    {"aws.cognito-idp", "cognito-idp.amazonaws.com", "userPoolId", "UserPool", []string{"DeleteUserPool", "UpdateUserPool"}},
	} {
		r := res.get(name, "Properties")
		p := r.get("EventPattern")
		if p.get("source").items()[0].str() != want.source || p.get("detail", "eventSource").items()[0].str() != want.eventSource {
			t.Errorf("%s: pattern %s", name, nodeText(p.n))
		}
		var events []string
		for _, e := range p.get("detail", "eventName").items() {
			events = append(events, e.str())
		}
		if strings.Join(events, ",") != strings.Join(want.events, ",") {
			t.Errorf("%s: events %v, want %v", name, events, want.events)
		}
		if !mentions(p.get("detail", "requestParameters", want.param).n, want.ref) {
			t.Errorf("%s: not bound to %s", name, want.ref)
		}
		if !mentions(r.get("Targets").n, "AlertTopic") {
			t.Errorf("%s: does not target AlertTopic", name)
		}
		if !mentions(res.get("AlertTopicPolicy", "Properties", "PolicyDocument").n, name) {
			t.Errorf("AlertTopicPolicy does not let %s publish", name)
		}
	}
}
