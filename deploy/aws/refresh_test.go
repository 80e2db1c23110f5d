package aws_test

import (
	"strconv"
	"strings"
	"testing"
)

// Nothing the refresher cannot apply is lost silently: a failed event goes
// to an encrypted dead-letter queue (after Lambda's retries, and when
// EventBridge cannot deliver it), an alarm on that queue tells the alert
// topic, and a reserved concurrency keeps concurrent refreshes (each with its
// own pacer) within their share of Cognito's quotas.
func TestRefreshFailuresAreParkedAndAlarmed(t *testing.T) {
	tpl := load(t, "identity.yaml")
	res := tpl.get("Resources")
	fn := res.get("RefreshFunction", "Properties")
	rc := fn.get("ReservedConcurrentExecutions")
	if !rc.ok() {
		t.Fatal("RefreshFunction has no ReservedConcurrentExecutions")
	}
	if share := fn.get("Environment", "Variables", "QUOTA_SHARE"); !share.ok() {
		t.Error("RefreshFunction sets no QUOTA_SHARE: every instance would pace at the default half of the quotas")
	}
	onFailure := fn.get("EventInvokeConfig", "DestinationConfig", "OnFailure")
	if onFailure.get("Type").str() != "SQS" || !mentions(onFailure.get("Destination").n, "RefreshDeadLetters") {
		t.Fatalf("RefreshFunction's on-failure destination: %s", nodeText(onFailure.n))
	}
	if n, err := strconv.Atoi(fn.get("EventInvokeConfig", "MaximumRetryAttempts").str()); err != nil || n < 1 {
		t.Errorf("MaximumRetryAttempts %q: a failed event should be retried before it is parked", fn.get("EventInvokeConfig", "MaximumRetryAttempts").str())
	}
	rule := fn.get("Events", "CognitoApiCalls", "Properties")
	if !mentions(rule.get("DeadLetterConfig").n, "RefreshDeadLetters") {
		t.Error("the EventBridge rule has no dead-letter queue for events it cannot deliver")
	}
	q := res.get("RefreshDeadLetters")
	if q.get("Type").str() != "AWS::SQS::Queue" || (!q.get("Properties", "KmsMasterKeyId").ok() && q.get("Properties", "SqsManagedSseEnabled").str() != "true") {
		t.Fatalf("RefreshDeadLetters: %s", nodeText(q.n))
	}
	if days, _ := strconv.Atoi(q.get("Properties", "MessageRetentionPeriod").str()); days != 1209600 {
		t.Errorf("dead letters kept %s s, want the maximum (14 days)", q.get("Properties", "MessageRetentionPeriod").str())
	}
	alarmed := false
	for _, id := range resourcesOfType(tpl, "AWS::CloudWatch::Alarm") {
		p := res.get(id, "Properties")
		if mentions(p.n, "RefreshDeadLetters") && p.get("MetricName").str() == "ApproximateNumberOfMessagesVisible" {
			alarmed = mentions(p.get("AlarmActions").n, "AlertTopic")
		}
	}
	if !alarmed {
		t.Error("no alarm on the dead-letter queue that notifies the AlertTopic")
	}
	sends := false
	for _, st := range statements(tpl)["RefreshRole"] {
		if strings.Contains(nodeText(st.n), "sqs:SendMessage") && mentions(st.n, "RefreshDeadLetters") {
			sends = true
		}
	}
	if !sends {
		t.Error("RefreshRole may not send to its dead-letter queue")
	}
	if res.get("AlertTopic", "Type").str() != "AWS::SNS::Topic" || !res.get("AlertTopic", "Properties", "KmsMasterKeyId").ok() {
		t.Errorf("AlertTopic: %s", nodeText(res.get("AlertTopic").n))
	}
}
