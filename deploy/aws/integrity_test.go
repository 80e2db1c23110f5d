package aws_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The mirror's KMS key cannot be disabled or scheduled for deletion by
// anyone but the optional break-glass role: an explicit Deny in the key
// policy, its exception a condition only when BreakGlassRoleArn is set.
// (An explicit Deny overrides any Allow: "Policy evaluation logic", IAM
// User Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html.)
func TestMirrorKeyCannotBeDisabledOrDeleted(t *testing.T) {
	tpl := load(t, "identity.yaml")
	if p := tpl.get("Parameters", "BreakGlassRoleArn"); !p.ok() || p.get("Default").str() != "" {
		t.Fatalf("BreakGlassRoleArn: an optional parameter, empty by default: %s", nodeText(p.n))
	}
	cond := tpl.get("Conditions", "HasBreakGlassRole")
	if !mentions(cond.n, "BreakGlassRoleArn") {
		t.Fatalf("HasBreakGlassRole: %s", nodeText(cond.n))
	}
	var deny node
	for _, st := range tpl.get("Resources", "MirrorKey", "Properties", "KeyPolicy", "Statement").items() {
		if st.get("Effect").str() == "Deny" {
			deny = st
		}
	}
	if !deny.ok() {
		t.Fatal("the mirror key's policy has no Deny statement")
	}
	var actions []string
	for _, a := range deny.get("Action").items() {
		actions = append(actions, a.str())
	}
	sort.Strings(actions)
	if strings.Join(actions, " ") != "kms:DisableKey kms:ScheduleKeyDeletion" {
		t.Errorf("denied actions %v", actions)
	}
	if deny.get("Principal", "AWS").str() != "*" || deny.get("Resource").str() != "*" {
		t.Errorf("the Deny must hold for every principal: %s", nodeText(deny.n))
	}
	// Condition: !If [HasBreakGlassRole, {ArnNotEquals: {aws:PrincipalArn: !Ref BreakGlassRoleArn}}, !Ref AWS::NoValue]
	c := deny.get("Condition")
	if c.tag() != "!If" || len(c.items()) != 3 || c.items()[0].str() != "HasBreakGlassRole" {
		t.Fatalf("the exception must depend on HasBreakGlassRole: %s", nodeText(c.n))
	}
	if !c.items()[1].get("ArnNotEquals", "aws:PrincipalArn").is("!Ref", "BreakGlassRoleArn") {
		t.Errorf("with a break-glass role, everyone else is denied: %s", nodeText(c.items()[1].n))
	}
	if !c.items()[2].is("!Ref", "AWS::NoValue") {
		t.Errorf("without one, the Deny is unconditional: %s", nodeText(c.items()[2].n))
	}
}

// Every grant of the mirror key to a function (and to auditors) holds only
// for requests DynamoDB makes on their behalf: kms:ViaService
// dynamodb.<region>.amazonaws.com ("Condition keys for AWS KMS",
// https://docs.aws.amazon.com/kms/latest/developerguide/policy-conditions.html#conditions-kms-via-service;
// "How Amazon DynamoDB uses AWS KMS",
// https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html).
func TestMirrorKeyOnlyThroughDynamoDB(t *testing.T) {
	tpl := load(t, "identity.yaml")
	grants := 0
	for id, sts := range statements(tpl) {
		for _, st := range sts {
			if !mentions(st.get("Resource").n, "MirrorKey") {
				continue
			}
			grants++
			v := st.get("Condition", "StringEquals", "kms:ViaService")
			if v.tag() != "!Sub" || v.str() != "dynamodb.${AWS::Region}.amazonaws.com" {
				t.Errorf("%s: the mirror key without kms:ViaService dynamodb.${AWS::Region}.amazonaws.com: %s", id, nodeText(st.n))
			}
		}
	}
	if grants < 4 { // post-confirmation, reconcile, refresh, auditors
		t.Fatalf("%d grants of the mirror key found", grants)
	}
}

// Writers get only what the store calls (mirror/: GetItem, Query, and Puts
// inside TransactWriteItems, whose actions are authorised as the underlying
// PutItem: "Using IAM with DynamoDB transactions",
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html);
// nobody may delete an item, and PutItem only inside a transaction.
func TestMirrorWritersGetOnlyWhatTheyUse(t *testing.T) {
	tpl := load(t, "identity.yaml")
	writers := map[string]bool{"PostConfirmationRole": true, "ReconcileRole": true, "RefreshRole": true}
	allowed := map[string]bool{"dynamodb:GetItem": true, "dynamodb:Query": true, "dynamodb:PutItem": true}
	for _, file := range []string{"identity.yaml", "app.yaml"} {
		for id, sts := range statements(load(t, file)) {
			for _, st := range sts {
				for _, a := range st.get("Action").items() {
					switch {
					case a.str() == "dynamodb:DeleteItem" || a.str() == "dynamodb:BatchWriteItem" || a.str() == "dynamodb:PartiQLDelete":
						t.Errorf("%s %s may delete items: %s", file, id, a.str())
					case writers[id] && strings.HasPrefix(a.str(), "dynamodb:") && !allowed[a.str()]:
						t.Errorf("%s: %s is not an action the mirror store calls", id, a.str())
					case writers[id] && a.str() == "dynamodb:PutItem":
						v := st.get("Condition", "ForAnyValue:StringEquals", "dynamodb:EnclosingOperation").items()
						if len(v) != 1 || v[0].str() != "TransactWriteItems" {
							t.Errorf("%s: PutItem outside a transaction: %s", id, nodeText(st.n))
						}
					}
				}
			}
		}
	}
	for id := range writers {
		var got []string
		for _, st := range statements(tpl)[id] {
			for _, a := range st.get("Action").items() {
				if strings.HasPrefix(a.str(), "dynamodb:") {
					got = append(got, a.str())
				}
			}
		}
		sort.Strings(got)
		if strings.Join(got, " ") != "dynamodb:GetItem dynamodb:PutItem dynamodb:Query" {
			t.Errorf("%s: DynamoDB actions %v, want GetItem, Query and PutItem", id, got)
		}
	}
	// And the store calls nothing else on the table: its API seam lists no
	// DeleteItem, and no product code outside tests calls UpdateItem, BatchWriteItem or DeleteItem.
	src, err := os.ReadFile("../../mirror/store.go")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`DeleteItem|BatchWriteItem`).Match(src) {
		t.Error("mirror.API names a delete or batch write")
	}
	for _, f := range []string{"../../mirror/users.go", "../../mirror/groups.go", "../../mirror/intent.go", "../../mirror/store.go", "../../mirror/journal.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`\.db\.(UpdateItem|PutItem|DeleteItem|BatchWriteItem)\(`).Match(b) {
			t.Errorf("%s writes outside a transaction: the writer roles may not", f)
		}
	}
}

// A change of the mirror key (deletion scheduled, disabled, policy
// replaced) is alerted: an EventBridge rule on the CloudTrail records of
// those calls for this key (event names from the KMS developer guide's
// CloudTrail examples, e.g.
// https://docs.aws.amazon.com/kms/latest/developerguide/ct-schedule-key-deletion.html),
// targeting the alert topic, which lets EventBridge (that rule only) publish
// and use its key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
func TestMirrorKeyChangesAreAlerted(t *testing.T) {
	tpl := load(t, "identity.yaml")
	res := tpl.get("Resources")
	var rule string
	for _, id := range resourcesOfType(tpl, "AWS::Events::Rule") {
		if mentions(res.get(id, "Properties", "EventPattern").n, "MirrorKey") {
			rule = id
		}
	}
	if rule == "" {
		t.Fatal("no EventBridge rule on the mirror key")
	}
	p := res.get(rule, "Properties")
	pat := p.get("EventPattern")
	if pat.get("source").items()[0].str() != "aws.kms" || pat.get("detail-type").items()[0].str() != "AWS API Call via CloudTrail" ||
		pat.get("detail", "eventSource").items()[0].str() != "kms.amazonaws.com" {
		t.Errorf("the rule's source: %s", nodeText(pat.n))
	}
	var names []string
	for _, n := range pat.get("detail", "eventName").items() {
		names = append(names, n.str())
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "DisableKey PutKeyPolicy ScheduleKeyDeletion" {
		t.Errorf("event names %v", names)
	}
	or := pat.get("detail", "$or").items()
	if len(or) != 2 || !or[0].get("resources", "ARN").items()[0].is("!GetAtt", "MirrorKey.Arn") || !mentions(or[1].get("requestParameters", "keyId").n, "MirrorKey") {
		t.Errorf("the rule must match this key only: %s", nodeText(pat.n))
	}
	targets := p.get("Targets").items()
	if len(targets) != 1 || !targets[0].get("Arn").is("!Ref", "AlertTopic") {
		t.Errorf("the rule must target AlertTopic: %s", nodeText(p.get("Targets").n))
	}
	published := false
	for _, id := range resourcesOfType(tpl, "AWS::SNS::TopicPolicy") {
		tp := res.get(id, "Properties")
		if !mentions(tp.get("Topics").n, "AlertTopic") {
			continue
		}
		for _, st := range tp.get("PolicyDocument", "Statement").items() {
			if st.get("Effect").str() == "Allow" && st.get("Principal", "Service").str() == "events.amazonaws.com" &&
				st.get("Action").str() == "sns:Publish" && st.get("Condition", "ArnEquals", "aws:SourceArn").is("!GetAtt", rule+".Arn") {
				published = true
			}
		}
	}
	if !published {
		t.Error("the alert topic does not let the rule (and only it) publish")
	}
	keyUse := false
	for _, st := range res.get("AlertKey", "Properties", "KeyPolicy", "Statement").items() {
		if st.get("Principal", "Service").str() == "events.amazonaws.com" && strings.Contains(nodeText(st.get("Action").n), "kms:GenerateDataKey") &&
			strings.Contains(nodeText(st.get("Action").n), "kms:Decrypt") {
			keyUse = true
		}
	}
	if !keyUse {
		t.Error("EventBridge may not use the alert topic's key: its messages would be dropped")
	}
}
