package aws_test

import (
	"strings"
	"testing"

	"github.com/idmirror/idmirror/drill"
)

// The scheduled drill may create pools only with the drill tag and touch or
// delete only pools carrying it. IAM cannot be evaluated locally, so these
// assert the conditions themselves. Condition keys: Cognito user pools
// support aws:RequestTag/${TagKey} and aws:TagKeys on CreateUserPool and
// aws:ResourceTag/${TagKey} on the userpool resource (Service Authorization
// Reference, "Actions, resources, and condition keys for Amazon Cognito User
// Pools", https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncognitouserpools.html;
// "Tagging Amazon Cognito resources",
// https://docs.aws.amazon.com/cognito/latest/developerguide/tagging.html).
// The stored copy of the first page we could read shows the page's head, not
// the CreateUserPool row: where the page is silent to us, the safe reading
// is taken (TagResource is allowed under the same request-tag condition, in
// case creating with tags needs it).
func TestDrillRoleIsBoundToTheDrillTag(t *testing.T) {
	tpl := load(t, "identity.yaml")
	res := tpl.get("Resources")
	if p := tpl.get("Parameters", "DrillSchedule"); !p.ok() || p.get("Default").str() != "" {
		t.Fatal("parameter DrillSchedule, default empty (no drill)")
	}
	for _, id := range []string{"DrillFunction", "DrillRole", "DrillLogs", "DrillFailedAlarm", "DrillErrorsAlarm"} {
		if res.get(id, "Condition").str() != "HasDrillSchedule" {
			t.Errorf("%s: Condition HasDrillSchedule (off by default)", id)
		}
	}
	fn := res.get("DrillFunction", "Properties")
	if fn.get("Timeout").str() != "900" || fn.get("Role").str() != "DrillRole.Arn" {
		t.Error("DrillFunction: 900 s, its own role")
	}
	if fn.get("Environment", "Variables", "SAMPLE").str() != "5000" || drill.LambdaSample != 5000 {
		t.Errorf("SAMPLE %q: the computed full-drill bound, drill.LambdaSample = %d", fn.get("Environment", "Variables", "SAMPLE").str(), drill.LambdaSample)
	}
	if fn.get("Events", "Schedule", "Properties", "ScheduleExpression").str() != "DrillSchedule" {
		t.Error("the schedule is the DrillSchedule parameter")
	}

	reqTag, resTag := "aws:RequestTag/"+drill.TagKey, "aws:ResourceTag/"+drill.TagKey
	creates, deletes := false, false
	for _, st := range statements(tpl)["DrillRole"] {
		var actions []string
		for _, a := range st.get("Action").items() {
			actions = append(actions, a.str())
		}
		cond := st.get("Condition", "StringEquals")
		source := false
		for _, r := range st.get("Resource").items() {
			source = source || mentions(r.n, "UserPool")
		}
		for _, a := range actions {
			switch {
			case a == "cognito-idp:CreateUserPool":
				creates = true
				if cond.get(reqTag).str() != drill.TagValue {
					t.Errorf("CreateUserPool without the condition %s = %s", reqTag, drill.TagValue)
				}
			case a == "cognito-idp:ListUserPools":
				if len(actions) != 1 {
					t.Error("ListUserPools (resource *) must stand alone")
				}
			case a == "cognito-idp:ListUsers" && source:
				if len(actions) != 1 {
					t.Errorf("on the source pool only ListUsers is allowed, not %v", actions)
				}
			case strings.HasPrefix(a, "cognito-idp:"):
				if a == "cognito-idp:DeleteUserPool" {
					deletes = true
				}
				if cond.get(resTag).str() != drill.TagValue && !(a == "cognito-idp:TagResource" && cond.get(reqTag).str() == drill.TagValue) {
					t.Errorf("%s without the condition %s = %s", a, resTag, drill.TagValue)
				}
			case strings.HasPrefix(a, "dynamodb:"):
				if a != "dynamodb:GetItem" && a != "dynamodb:Query" {
					t.Errorf("the drill reads the mirror only: %s", a)
				}
			case strings.HasPrefix(a, "kms:"):
				if a != "kms:Decrypt" {
					t.Errorf("KMS: decrypt only, not %s", a)
				}
			}
		}
		if st.get("Effect").str() == "Deny" {
			var not []string
			for _, a := range st.get("NotAction").items() {
				not = append(not, a.str())
			}
			if !source || strings.Join(not, ",") != "cognito-idp:ListUsers,cognito-idp:DescribeUserPool" {
				t.Errorf("the deny must cover every other action on the source pool: %v", not)
			}
		}
	}
	if !creates || !deletes {
		t.Error("the drill role creates and deletes scratch pools")
	}

	alarm := res.get("DrillFailedAlarm", "Properties")
	if alarm.get("Namespace").str() != "idmirror" || alarm.get("MetricName").str() != "DrillSucceeded" ||
		alarm.get("Dimensions").items()[0].get("Value").str() != "drill" || alarm.get("AlarmActions").items()[0].str() != "AlertTopic" {
		t.Error("DrillFailedAlarm: DrillSucceeded (namespace idmirror, Function=drill) to the AlertTopic")
	}
	if res.get("DrillErrorsAlarm", "Properties", "AlarmActions").items()[0].str() != "AlertTopic" {
		t.Error("DrillErrorsAlarm to the AlertTopic")
	}
}
