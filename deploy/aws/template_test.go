package aws_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/idmirror/idmirror/mirror"
)

// node wraps a YAML node of a template; intrinsic functions stay as tagged
// nodes (!Ref, !GetAtt, !Sub, …), so the tests check the wiring itself.
type node struct{ n *yaml.Node }

func load(t *testing.T, file string) node {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return node{doc.Content[0]}
}

func (n node) get(path ...string) node {
	cur := n.n
	for _, k := range path {
		if cur == nil || cur.Kind != yaml.MappingNode {
			return node{}
		}
		var next *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == k {
				next = cur.Content[i+1]
			}
		}
		cur = next
	}
	return node{cur}
}

func (n node) ok() bool       { return n.n != nil }
func (n node) str() string    { return valueOr(n.n) }
func (n node) tag() string    { return tagOf(n.n) }
func (n node) items() []node  { return children(n.n) }
func (n node) keys() []string { return keysOf(n.n) }

func valueOr(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

func tagOf(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Tag
}

func children(n *yaml.Node) []node {
	if n == nil || n.Kind != yaml.SequenceNode {
		if n != nil && n.Kind == yaml.ScalarNode {
			return []node{{n}}
		}
		return nil
	}
	out := make([]node, len(n.Content))
	for i, c := range n.Content {
		out[i] = node{c}
	}
	return out
}

func keysOf(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

// is reports an intrinsic: tag and (scalar) value, e.g. is("!GetAtt", "UserPool.Arn").
func (n node) is(tag, value string) bool { return n.tag() == tag && n.str() == value }

func resourcesOfType(tpl node, typ string) []string {
	var out []string
	res := tpl.get("Resources")
	for _, k := range res.keys() {
		if res.get(k, "Type").str() == typ {
			out = append(out, k)
		}
	}
	return out
}

// mentions reports whether the subtree names the resource (Ref, GetAtt, Sub).
func mentions(n *yaml.Node, resource string) bool {
	if n == nil {
		return false
	}
	if n.Kind == yaml.ScalarNode && (n.Value == resource || strings.HasPrefix(n.Value, resource+".") || strings.Contains(n.Value, "${"+resource)) {
		return true
	}
	for _, c := range n.Content {
		if mentions(c, resource) {
			return true
		}
	}
	return false
}

func TestIdentityStackRetainsAndProtectsIdentities(t *testing.T) {
	tpl := load(t, "identity.yaml")
	res := tpl.get("Resources")
	for _, typ := range []string{"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolGroup", "AWS::Cognito::UserPoolClient",
		"AWS::Cognito::UserPoolResourceServer", "AWS::DynamoDB::Table", "AWS::KMS::Key"} {
		ids := resourcesOfType(tpl, typ)
		if len(ids) == 0 {
			t.Errorf("no %s in the identity stack", typ)
		}
		for _, id := range ids {
			if res.get(id, "DeletionPolicy").str() != "Retain" || res.get(id, "UpdateReplacePolicy").str() != "Retain" {
				t.Errorf("%s (%s) must have DeletionPolicy and UpdateReplacePolicy Retain", id, typ)
			}
		}
	}
	pool := res.get("UserPool", "Properties")
	if pool.get("DeletionProtection").str() != "ACTIVE" {
		t.Error("the user pool needs DeletionProtection ACTIVE")
	}
	table := res.get("MirrorTable", "Properties")
	if table.get("PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled").str() != "true" ||
		table.get("DeletionProtectionEnabled").str() != "true" || table.get("BillingMode").str() != "PAY_PER_REQUEST" {
		t.Error("the mirror table needs PITR, deletion protection and on-demand billing")
	}
	sse := table.get("SSESpecification")
	if sse.get("SSEEnabled").str() != "true" || sse.get("SSEType").str() != "KMS" || !sse.get("KMSMasterKeyId").is("!Ref", "MirrorKey") {
		t.Error("the mirror table must be encrypted with the stack's customer managed key")
	}
	if res.get("MirrorKey", "Properties", "EnableKeyRotation").str() != "true" {
		t.Error("the key needs rotation")
	}
	groups := map[string]string{}
	for _, id := range resourcesOfType(tpl, "AWS::Cognito::UserPoolGroup") {
		p := res.get(id, "Properties")
		groups[p.get("GroupName").str()] = p.get("Precedence").str()
		if !p.get("UserPoolId").is("!Ref", "UserPool") {
			t.Errorf("group %s is not in the stack's pool", id)
		}
	}
	if groups["admins"] != "1" || groups["operators"] != "2" {
		t.Errorf("groups = %v, want admins (1) and operators (2)", groups)
	}
}

func TestTriggersAreWiredToThePool(t *testing.T) {
	tpl := load(t, "identity.yaml")
	res := tpl.get("Resources")
	lc := res.get("UserPool", "Properties", "LambdaConfig")
	if !lc.get("PostConfirmation").is("!GetAtt", "PostConfirmationFunction.Arn") {
		t.Error("PostConfirmation is not wired to PostConfirmationFunction")
	}
	if !lc.get("PreTokenGenerationConfig", "LambdaArn").is("!GetAtt", "PreTokenFunction.Arn") ||
		!lc.get("PreTokenGenerationConfig", "LambdaVersion").is("!Ref", "PreTokenEventVersion") {
		t.Error("pre-token generation is not wired to PreTokenFunction with the selectable version")
	}
	if v := tpl.get("Parameters", "PreTokenEventVersion"); v.get("Default").str() != "V1_0" || len(v.get("AllowedValues").items()) != 2 {
		t.Error("PreTokenEventVersion: V1_0 by default, V2_0 selectable")
	}
	perms := map[string]bool{}
	for _, id := range resourcesOfType(tpl, "AWS::Lambda::Permission") {
		p := res.get(id, "Properties")
		if p.get("Principal").str() == "cognito-idp.amazonaws.com" && p.get("SourceArn").is("!GetAtt", "UserPool.Arn") {
			perms[strings.TrimSuffix(p.get("FunctionName").str(), ".Arn")] = true
		}
	}
	if !perms["PostConfirmationFunction"] || !perms["PreTokenFunction"] {
		t.Errorf("Cognito may invoke only %v; want both triggers, with the pool as SourceArn", perms)
	}
}

func functions(t *testing.T, tpl node) []string {
	ids := resourcesOfType(tpl, "AWS::Serverless::Function")
	if len(ids) == 0 {
		t.Fatal("no functions")
	}
	return ids
}

func checkFunctions(t *testing.T, file string) {
	tpl := load(t, file)
	res := tpl.get("Resources")
	g := tpl.get("Globals", "Function")
	if g.get("Runtime").str() != "provided.al2023" || len(g.get("Architectures").items()) != 1 || g.get("Architectures").items()[0].str() != "arm64" {
		t.Errorf("%s: functions must run on provided.al2023, arm64", file)
	}
	roles := map[string]string{}
	for _, id := range functions(t, tpl) {
		f := res.get(id)
		if other, shared := roles[f.get("Properties", "Role").str()]; shared {
			t.Errorf("%s: %s and %s share a role; each function needs its own", file, id, other)
		}
		roles[f.get("Properties", "Role").str()] = id
		if f.get("Metadata", "BuildMethod").str() != "makefile" {
			t.Errorf("%s %s: Metadata BuildMethod makefile", file, id)
		}
		role := f.get("Properties", "Role")
		if role.tag() != "!GetAtt" || res.get(strings.TrimSuffix(role.str(), ".Arn"), "Type").str() != "AWS::IAM::Role" {
			t.Errorf("%s %s: needs its own IAM role", file, id)
		}
		lg := f.get("Properties", "LoggingConfig", "LogGroup")
		if lg.tag() != "!Ref" || res.get(lg.str(), "Properties", "RetentionInDays").str() == "" {
			t.Errorf("%s %s: needs a log group with a retention period", file, id)
		}
	}
}

func TestFunctionsBuildAndLog(t *testing.T) {
	checkFunctions(t, "identity.yaml")
	checkFunctions(t, "app.yaml")
}

// statements returns every IAM policy statement of the template, by resource id.
func statements(tpl node) map[string][]node {
	out := map[string][]node{}
	res := tpl.get("Resources")
	for _, id := range res.keys() {
		p := res.get(id, "Properties")
		switch res.get(id, "Type").str() {
		case "AWS::IAM::Role":
			for _, pol := range p.get("Policies").items() {
				out[id] = append(out[id], pol.get("PolicyDocument", "Statement").items()...)
			}
		case "AWS::IAM::ManagedPolicy":
			out[id] = append(out[id], p.get("PolicyDocument", "Statement").items()...)
		}
	}
	return out
}

func TestLeastPrivilege(t *testing.T) {
	for _, file := range []string{"identity.yaml", "app.yaml"} {
		tpl := load(t, file)
		for id, sts := range statements(tpl) {
			for _, st := range sts {
				var actions []string
				for _, a := range st.get("Action").items() {
					actions = append(actions, a.str())
					if a.str() == "*" || strings.HasSuffix(a.str(), ":*") && a.str() != "kms:*" {
						t.Errorf("%s %s: wildcard action %s", file, id, a.str())
					}
				}
				dynamo := strings.Contains(strings.Join(actions, " "), "dynamodb:")
				for _, r := range st.get("Resource").items() {
					// ListTables and ListUserPools (the drill's clean-up) have no resource-level permissions.
					if r.str() == "*" && !(len(actions) == 1 && (actions[0] == "dynamodb:ListTables" || actions[0] == "cognito-idp:ListUserPools")) && id != "MirrorKey" {
						t.Errorf("%s %s: resource * for %v", file, id, actions)
					}
					if dynamo && r.str() != "*" && !mentions(r.n, "MirrorTable") {
						t.Errorf("%s %s: DynamoDB actions on something other than the mirror table: %s", file, id, r.str())
					}
				}
			}
		}
	}
	tpl := load(t, "identity.yaml")
	pre := tpl.get("Resources", "PreTokenRole")
	if mentions(pre.n, "MirrorTable") || mentions(pre.n, "MirrorKey") || strings.Contains(nodeText(pre.n), "dynamodb:") {
		t.Error("the pre-token function must have no table access")
	}
	if mentions(tpl.get("Resources", "PreTokenFunction").n, "MirrorTable") {
		t.Error("the pre-token function must not even know the table")
	}
}

func nodeText(n *yaml.Node) string {
	b, _ := yaml.Marshal(n)
	return string(b)
}

// The auditor policy grants exactly what docs/auditing.md lists.
func TestAuditorPolicyMatchesTheDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/auditing.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)[strings.Index(string(doc), "## Permissions an auditor needs"):]
	want := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:dynamodb|kms):[A-Za-z]+)`").FindAllStringSubmatch(section, -1) {
		want[m[1]] = true
	}
	got := map[string]bool{}
	for _, st := range statements(load(t, "identity.yaml"))["AuditorPolicy"] {
		if st.get("Effect").str() != "Allow" {
			t.Error("the auditor policy only allows")
		}
		for _, a := range st.get("Action").items() {
			got[a.str()] = true
		}
	}
	if len(want) != 7 || !equalSets(want, got) {
		t.Fatalf("auditor policy actions %v, docs list %v", keys(got), keys(want))
	}
}

func TestPoolIsPublishedInSSMNotExports(t *testing.T) {
	tpl := load(t, "identity.yaml")
	names := map[string]string{}
	for _, id := range resourcesOfType(tpl, "AWS::SSM::Parameter") {
		p := tpl.get("Resources", id, "Properties")
		v := p.get("Value")
		names[regexp.MustCompile(`[^/]+$`).FindString(p.get("Name").str())] = v.tag() + " " + v.str()
	}
	want := map[string]string{"user-pool-id": "!Ref UserPool", "user-pool-arn": "!GetAtt UserPool.Arn", "app-client-id": "!Ref AppClient"}
	for k, v := range want {
		if names[k] != v {
			t.Errorf("SSM parameter %s = %q, want %q", k, names[k], v)
		}
	}
	for _, file := range []string{"identity.yaml", "app.yaml"} {
		out := load(t, file).get("Outputs")
		for _, k := range out.keys() {
			if out.get(k, "Export").ok() {
				t.Errorf("%s output %s is exported: use SSM parameters", file, k)
			}
		}
	}
}

func TestAppStackOwnsNoIdentity(t *testing.T) {
	tpl := load(t, "app.yaml")
	res := tpl.get("Resources")
	for _, id := range res.keys() {
		typ := res.get(id, "Type").str()
		if strings.HasPrefix(typ, "AWS::Cognito::") || typ == "AWS::DynamoDB::Table" || typ == "AWS::KMS::Key" || typ == "AWS::SSM::Parameter" {
			t.Errorf("the app stack holds identity resource %s (%s)", id, typ)
		}
	}
	if tpl.get("Parameters", "UserPoolArn", "Type").str() != "AWS::SSM::Parameter::Value<String>" {
		t.Error("the app must read the pool ARN from an SSM parameter")
	}
	// Who may call which route, in each AuthMode: authmodes_test.go.
}

// deref reads the SDK's optional strings (without importing the SDK's aws
// package into this one, also named aws).
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The template's table is the one definition in Go.
func TestTemplateTableMatchesGo(t *testing.T) {
	def := mirror.TableDefinition("x")
	p := load(t, "identity.yaml").get("Resources", "MirrorTable", "Properties")
	attrs := map[string]string{}
	for _, a := range p.get("AttributeDefinitions").items() {
		attrs[a.get("AttributeName").str()] = a.get("AttributeType").str()
	}
	wantAttrs := map[string]string{}
	for _, a := range def.AttributeDefinitions {
		wantAttrs[deref(a.AttributeName)] = string(a.AttributeType)
	}
	if !equalMaps(attrs, wantAttrs) {
		t.Errorf("attribute definitions: template %v, Go %v", attrs, wantAttrs)
	}
	keySchema := func(items []node) string {
		var s []string
		for _, k := range items {
			s = append(s, k.get("AttributeName").str()+":"+k.get("KeyType").str())
		}
		return strings.Join(s, ",")
	}
	var goKeys []string
	for _, k := range def.KeySchema {
		goKeys = append(goKeys, deref(k.AttributeName)+":"+string(k.KeyType))
	}
	if got := keySchema(p.get("KeySchema").items()); got != strings.Join(goKeys, ",") {
		t.Errorf("key schema: template %s, Go %s", got, strings.Join(goKeys, ","))
	}
	tplGSI := map[string]string{}
	for _, g := range p.get("GlobalSecondaryIndexes").items() {
		tplGSI[g.get("IndexName").str()] = keySchema(g.get("KeySchema").items()) + " " + g.get("Projection", "ProjectionType").str()
	}
	goGSI := map[string]string{}
	for _, g := range def.GlobalSecondaryIndexes {
		var ks []string
		for _, k := range g.KeySchema {
			ks = append(ks, deref(k.AttributeName)+":"+string(k.KeyType))
		}
		goGSI[deref(g.IndexName)] = strings.Join(ks, ",") + " " + string(g.Projection.ProjectionType)
	}
	if !equalMaps(tplGSI, goGSI) {
		t.Errorf("indexes: template %v, Go %v", tplGSI, goGSI)
	}
}

// sam build runs `make build-<LogicalId> ARTIFACTS_DIR=<dir>` for each
// function with BuildMethod makefile: run it the same way.
func TestSamBuildTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles every function")
	}
	root, _ := filepath.Abs("../..")
	seen := map[string]bool{}
	for _, file := range []string{"identity.yaml", "app.yaml"} {
		tpl := load(t, file)
		for _, id := range functions(t, tpl) {
			if seen[id] {
				continue
			}
			seen[id] = true
			if cu := tpl.get("Resources", id, "Properties", "CodeUri").str(); filepath.Clean(cu) != "../.." {
				t.Errorf("%s: CodeUri %q must be the repository root, where the Makefile is", id, cu)
			}
			dir := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+dir)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
			if err != nil {
				t.Fatal(err)
			}
			// ELF, 64-bit, e_machine 183 (AArch64): built for Lambda's arm64, not this machine.
			if len(b) < 20 || string(b[1:4]) != "ELF" || b[4] != 2 || b[18] != 183 {
				t.Fatalf("build-%s did not produce a linux/arm64 binary", id)
			}
		}
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
