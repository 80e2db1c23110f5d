package aws_test

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/authz"
)

// Who reaches which route of the app stack, in each AuthMode: the template is
// resolved for the mode (conditions, !If, !FindInMap, !Sub, !Ref), then each
// caller is taken through the gateway's check and the function's own, and the
// IAM policies involved (the Lambda authorizer's answer, the group roles'
// policies) are evaluated statement by statement.

var authModes = []string{"V2Scopes", "V1Claims", "LambdaAuthorizer", "IAM"}

const (
	testRegion  = "eu-west-1"
	testAccount = "123456789012"
	identityStk = "idmirror-identity"
)

// A caller: the groups Cognito lists for them (none for an outsider);
// anonymous has no token at all.
type caller struct {
	name      string
	groups    []string
	anonymous bool
}

var callers = []caller{
	{name: "admin", groups: []string{"admins", "operators"}},
	{name: "operator", groups: []string{"operators"}},
	{name: "outsider"},
	{name: "anonymous", anonymous: true},
}

// want is the outcome every mode must give.
var want = map[string][]string{"admin": {"GET /everyday", "GET /personal-data"}, "operator": {"GET /everyday"}}

// ---- A resolver for the intrinsic functions the templates use; it fails on any other.

type resolver struct {
	t      *testing.T
	tpl    node
	params map[string]string
	conds  map[string]bool
}

// absent is AWS::NoValue.
type absent struct{}

func newResolver(t *testing.T, tpl node, params map[string]string) *resolver {
	r := &resolver{t: t, tpl: tpl, params: params, conds: map[string]bool{}}
	for _, k := range tpl.get("Parameters").keys() {
		if _, ok := r.params[k]; !ok {
			r.params[k] = tpl.get("Parameters", k, "Default").str()
		}
	}
	for _, k := range tpl.get("Conditions").keys() {
		r.cond(k)
	}
	return r
}

func (r *resolver) cond(name string) bool {
	if v, ok := r.conds[name]; ok {
		return v
	}
	n := r.tpl.get("Conditions", name)
	if !n.ok() {
		r.t.Fatalf("no condition %s", name)
	}
	v := r.boolOf(n.n)
	r.conds[name] = v
	return v
}

func (r *resolver) boolOf(n *yaml.Node) bool {
	args := children(n)
	switch n.Tag {
	case "!Equals":
		return len(args) == 2 && fmt.Sprint(r.value(args[0].n)) == fmt.Sprint(r.value(args[1].n))
	case "!Or":
		for _, a := range args {
			if r.boolOf(a.n) {
				return true
			}
		}
		return false
	case "!And":
		for _, a := range args {
			if !r.boolOf(a.n) {
				return false
			}
		}
		return true
	case "!Not":
		return !r.boolOf(args[0].n)
	case "!Condition":
		return r.cond(n.Value)
	}
	r.t.Fatalf("condition function %s %q: not understood", n.Tag, n.Value)
	return false
}

// ref resolves a name as !Ref does: parameters to their values, pseudo
// parameters to the test's account, resources to their logical id.
func (r *resolver) ref(name string) any {
	switch name {
	case "AWS::NoValue":
		return absent{}
	case "AWS::Region":
		return testRegion
	case "AWS::AccountId":
		return testAccount
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::StackName":
		return "test-stack"
	}
	if v, ok := r.params[name]; ok {
		return v
	}
	if r.tpl.get("Resources", name).ok() {
		if !r.included(name) {
			r.t.Fatalf("%s is referenced where its condition is false", name)
		}
		return name
	}
	r.t.Fatalf("!Ref %s: no such parameter or resource", name)
	return nil
}

func (r *resolver) included(id string) bool {
	c := r.tpl.get("Resources", id, "Condition")
	return !c.ok() || r.cond(c.str())
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// value resolves a node into strings, []any and map[string]any.
func (r *resolver) value(n *yaml.Node) any {
	switch n.Tag {
	case "!Ref":
		return r.ref(n.Value)
	case "!GetAtt":
		id, _, _ := strings.Cut(n.Value, ".")
		r.ref(id)
		return n.Value
	case "!Sub":
		if n.Kind != yaml.ScalarNode {
			r.t.Fatalf("!Sub with a variable map: not understood")
		}
		return subVar.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := m[2 : len(m)-1]
			if id, _, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
				r.ref(id)
				return name
			}
			return fmt.Sprint(r.ref(name))
		})
	case "!If":
		args := children(n)
		if len(args) != 3 {
			r.t.Fatalf("!If needs three arguments")
		}
		if r.cond(args[0].str()) {
			return r.value(args[1].n)
		}
		return r.value(args[2].n)
	case "!FindInMap":
		args := children(n)
		m := r.tpl.get("Mappings", fmt.Sprint(r.value(args[0].n)), fmt.Sprint(r.value(args[1].n)), fmt.Sprint(r.value(args[2].n)))
		if !m.ok() {
			r.t.Fatalf("!FindInMap %s: no such entry", nodeText(n))
		}
		return r.value(m.n)
	case "!Condition", "!Equals", "!Or", "!And", "!Not":
		return r.boolOf(n)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		r.t.Fatalf("intrinsic %s: not understood", n.Tag)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.SequenceNode:
		var out []any
		for _, c := range n.Content {
			if v := r.value(c); v != (absent{}) {
				out = append(out, v)
			}
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := r.value(n.Content[i+1]); v != (absent{}) {
				out[n.Content[i].Value] = v
			}
		}
		return out
	}
	r.t.Fatalf("node kind %v: not understood", n.Kind)
	return nil
}

// prop resolves a resource's property ("" when absent).
func (r *resolver) prop(id string, path ...string) any {
	n := r.tpl.get(append([]string{"Resources", id, "Properties"}, path...)...)
	if !n.ok() {
		return absent{}
	}
	return r.value(n.n)
}

func (r *resolver) str(id string, path ...string) string {
	v := r.prop(id, path...)
	if v == (absent{}) {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.t.Fatalf("%s %v: %v is not a string", id, path, v)
	}
	return s
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// ---- The policy evaluator: Allow/Deny statements with Action and Resource
// (wildcards * and ?); it fails on anything else (NotAction, Condition, …).

type statement struct {
	effect             string
	actions, resources []string
}

func parseStatements(t *testing.T, v any) []statement {
	t.Helper()
	sts, err := statementsOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

func statementsOf(v any) ([]statement, error) {
	var list []any
	switch v := v.(type) {
	case []any:
		list = v
	case map[string]any:
		list = []any{v}
	default:
		return nil, fmt.Errorf("policy statements %v: not understood", v)
	}
	var out []statement
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("statement %v: not understood", e)
		}
		st := statement{effect: fmt.Sprint(m["Effect"]), actions: strs(m["Action"]), resources: strs(m["Resource"])}
		for k := range m {
			if k != "Effect" && k != "Action" && k != "Resource" && k != "Sid" {
				return nil, fmt.Errorf("statement key %s: not understood by the evaluator", k)
			}
		}
		if (st.effect != "Allow" && st.effect != "Deny") || len(st.actions) == 0 || len(st.resources) == 0 {
			return nil, fmt.Errorf("statement %v: not understood", m)
		}
		out = append(out, st)
	}
	return out, nil
}

// allowed: an explicit Deny wins, then any Allow, else the implicit deny.
func allowed(sts []statement, action, resource string) bool {
	allow := false
	for _, st := range sts {
		if !matchAny(st.actions, action, true) || !matchAny(st.resources, resource, false) {
			continue
		}
		if st.effect == "Deny" {
			return false
		}
		allow = true
	}
	return allow
}

func matchAny(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// wildcard matches IAM's * (any run, "/" included) and ? (one character).
func wildcard(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcard(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcard(p[1:], s[1:])
	}
	return s != "" && s[0] == p[0] && wildcard(p[1:], s[1:])
}

func TestPolicyEvaluator(t *testing.T) {
	base := "arn:aws:execute-api:eu-west-1:1:api/prod"
	sts := []statement{
		{"Allow", []string{"execute-api:*"}, []string{base + "/*"}},
		{"Deny", []string{"execute-api:Invoke"}, []string{base + "/GET/personal-?ata"}},
	}
	if !allowed(sts, "execute-api:Invoke", base+"/GET/everyday") || !allowed(sts, "Execute-API:invoke", base+"/GET/a/b") {
		t.Error("a wildcard Allow does not allow")
	}
	if allowed(sts, "execute-api:Invoke", base+"/GET/personal-data") {
		t.Error("an explicit Deny does not win")
	}
	if allowed(sts, "execute-api:Invoke", "arn:aws:execute-api:eu-west-1:1:other/prod/GET/everyday") || allowed(nil, "execute-api:Invoke", base+"/GET/everyday") {
		t.Error("no matching Allow must deny")
	}
	for _, bad := range []any{
		map[string]any{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
		map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": map[string]any{}},
		map[string]any{"Effect": "Maybe", "Action": "*", "Resource": "*"},
		map[string]any{"Effect": "Allow", "Action": "*"},
	} {
		if _, err := statementsOf(bad); err == nil {
			t.Errorf("the evaluator accepted %v", bad)
		}
	}
}

// ---- The app stack, mode by mode.

const apiBase = "arn:aws:execute-api:" + testRegion + ":" + testAccount + ":BackofficeApi/prod"

type method struct {
	route, function, authType, authorizer string
	scopes                                []string
}

// methods returns the API's methods as the mode deploys them.
func methods(t *testing.T, r *resolver) []method {
	var out []method
	for _, id := range resourcesOfType(r.tpl, "AWS::ApiGateway::Method") {
		if !r.included(id) {
			continue
		}
		res := r.str(id, "ResourceId")
		if r.str(res, "ParentId") != "BackofficeApi.RootResourceId" || r.str(id, "RestApiId") != "BackofficeApi" {
			t.Fatalf("%s: only resources right under the API's root are understood", id)
		}
		m := method{route: r.str(id, "HttpMethod") + " /" + r.str(res, "PathPart"), authType: r.str(id, "AuthorizationType"),
			authorizer: r.str(id, "AuthorizerId"), scopes: strs(r.prop(id, "AuthorizationScopes"))}
		fn := regexp.MustCompile(`functions/([A-Za-z]+)\.Arn/invocations$`).FindStringSubmatch(r.str(id, "Integration", "Uri"))
		if fn == nil || r.str(id, "Integration", "Type") != "AWS_PROXY" {
			t.Fatalf("%s: the integration is not a Lambda proxy", id)
		}
		m.function = fn[1]
		out = append(out, m)
	}
	return out
}

// identityOutputs maps what the identity stack publishes in SSM (by the name's
// last part) to the logical id of the resource it names.
func identityOutputs(t *testing.T) map[string]string {
	tpl := load(t, "identity.yaml")
	out := map[string]string{}
	for _, id := range resourcesOfType(tpl, "AWS::SSM::Parameter") {
		p := tpl.get("Resources", id, "Properties")
		v := p.get("Value")
		name := regexp.MustCompile(`[^/]+$`).FindString(p.get("Name").str())
		out[name] = strings.TrimSuffix(v.str(), ".Arn")
	}
	return out
}

// appParams resolves the app's SSM-typed parameters to the identity stack's
// resources (so the IAM chain group → role → SSM → app policy is checked).
func appParams(t *testing.T, mode string) map[string]string {
	app := load(t, "app.yaml")
	published := identityOutputs(t)
	params := map[string]string{"AuthMode": mode}
	for _, k := range app.get("Parameters").keys() {
		p := app.get("Parameters", k)
		if p.get("Type").str() != "AWS::SSM::Parameter::Value<String>" {
			continue
		}
		def := p.get("Default").str()
		if !strings.HasPrefix(def, "/idmirror/"+identityStk+"/") {
			t.Fatalf("parameter %s: default %q is not one the identity stack publishes", k, def)
		}
		target, ok := published[def[strings.LastIndex(def, "/")+1:]]
		if !ok {
			t.Fatalf("parameter %s: the identity stack publishes no %s", k, def)
		}
		params[k] = target
	}
	return params
}

// groupRoles maps each group to its IAM role (logical id) and precedence.
func groupRoles(t *testing.T) map[string]struct {
	role       string
	precedence int
} {
	tpl := load(t, "identity.yaml")
	out := map[string]struct {
		role       string
		precedence int
	}{}
	for _, id := range resourcesOfType(tpl, "AWS::Cognito::UserPoolGroup") {
		p := tpl.get("Resources", id, "Properties")
		var prec int
		fmt.Sscan(p.get("Precedence").str(), &prec)
		role := ""
		if ra := p.get("RoleArn"); ra.ok() {
			if ra.tag() != "!GetAtt" || !strings.HasSuffix(ra.str(), ".Arn") {
				t.Fatalf("group %s: RoleArn %s is not a role of the stack", id, nodeText(ra.n))
			}
			role = strings.TrimSuffix(ra.str(), ".Arn")
		}
		out[p.get("GroupName").str()] = struct {
			role       string
			precedence int
		}{role, prec}
	}
	return out
}

// preferredRole is what Cognito puts in cognito:preferred_role: the role of
// the caller's group with the lowest precedence among those with a role;
// without one, the identity pool (AmbiguousRoleResolution Deny, no default
// role) gives no credentials.
func preferredRole(t *testing.T, c caller) string {
	roles := groupRoles(t)
	best, prec := "", 0
	for _, g := range c.groups {
		gr, ok := roles[g]
		if ok && gr.role != "" && (best == "" || gr.precedence < prec) {
			best, prec = gr.role, gr.precedence
		}
	}
	return best
}

// scopesOf is what the pre-token trigger (V2) puts in the caller's access token.
func scopesOf(c caller) []string {
	var out []string
	for _, r := range idmirror.DefaultRoleMap().RolesFor(c.groups) {
		out = append(out, r.Scopes...)
	}
	return out
}

func rolesOf(c caller) []string {
	var out []string
	for _, r := range idmirror.DefaultRoleMap().RolesFor(c.groups) {
		out = append(out, r.Name)
	}
	return out
}

// rolePolicies returns the statements the app stack attaches to an IAM role.
func rolePolicies(t *testing.T, r *resolver, role string) []statement {
	var out []statement
	for _, id := range r.tpl.get("Resources").keys() {
		typ := r.tpl.get("Resources", id, "Type").str()
		if !r.included(id) {
			continue
		}
		switch typ {
		case "AWS::IAM::RolePolicy":
			if r.str(id, "RoleName") == role {
				out = append(out, parseStatements(t, r.prop(id, "PolicyDocument", "Statement"))...)
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			if slices.Contains(strs(r.prop(id, "Roles")), role) {
				out = append(out, parseStatements(t, r.prop(id, "PolicyDocument", "Statement"))...)
			}
		}
	}
	return out
}

// gateway decides as API Gateway would whether the caller gets past the method's authorization.
func gateway(t *testing.T, r *resolver, m method, c caller) bool {
	switch m.authType {
	case "COGNITO_USER_POOLS":
		if r.str(m.authorizer, "Type") != "COGNITO_USER_POOLS" || !slices.Equal(strs(r.prop(m.authorizer, "ProviderARNs")), []string{"UserPool"}) {
			t.Fatalf("%s: not a Cognito authorizer on the identity stack's pool", m.route)
		}
		if c.anonymous {
			return false // 401: no token
		}
		if len(m.scopes) == 0 {
			return true // any valid token of the pool
		}
		for _, s := range scopesOf(c) {
			if slices.Contains(m.scopes, s) {
				return true
			}
		}
		return false
	case "CUSTOM":
		if r.str(m.authorizer, "Type") != "TOKEN" || !strings.Contains(r.str(m.authorizer, "AuthorizerUri"), "AuthorizerFunction.Arn") {
			t.Fatalf("%s: not the authorizer function as a TOKEN authorizer", m.route)
		}
		if c.anonymous {
			return false // 401: no token
		}
		// The authorizer's answer for this caller, evaluated like API Gateway evaluates it.
		resp := authz.Policy(apiBase, authz.Identity{Subject: "s", Roles: rolesOf(c)})
		var sts []any
		for _, st := range resp.PolicyDocument.Statement {
			sts = append(sts, map[string]any{"Effect": st.Effect, "Action": toAny(st.Action), "Resource": toAny(st.Resource)})
		}
		return allowed(parseStatements(t, sts), "execute-api:Invoke", apiBase+"/"+strings.Replace(m.route, " ", "", 1))
	case "AWS_IAM":
		if c.anonymous {
			return false // unsigned: 403 Missing Authentication Token
		}
		role := preferredRole(t, c)
		if role == "" {
			return false // the identity pool gives no credentials
		}
		return allowed(rolePolicies(t, r, role), "execute-api:Invoke", apiBase+"/"+strings.Replace(m.route, " ", "", 1))
	}
	t.Fatalf("%s: authorization type %q lets anyone in or is not understood", m.route, m.authType)
	return false
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// function decides as cmd/backoffice would, given its ROLE_SOURCE.
func function(t *testing.T, r *resolver, m method, c caller, mode string) bool {
	src := r.str(m.function, "Environment", "Variables", "ROLE_SOURCE")
	wantSrc := map[string]string{"V2Scopes": "scopes", "V1Claims": "claims", "LambdaAuthorizer": "authorizer", "IAM": "iam"}[mode]
	if src != wantSrc {
		t.Fatalf("%s: %s has ROLE_SOURCE %q, want %q", mode, m.function, src, wantSrc)
	}
	method, path, _ := strings.Cut(m.route, " ")
	route, ok := authz.Lookup(method, path)
	if !ok {
		t.Fatalf("%s is not in authz.Routes", m.route)
	}
	if c.anonymous {
		return false
	}
	if src == "scopes" {
		return slices.Contains(scopesOf(c), route.Scope)
	}
	if src == "iam" {
		roles := r.str(m.function, "Environment", "Variables", "IAM_ROLES")
		role := preferredRole(t, c)
		wantRoles := "admin=" + groupRoles(t)["admins"].role + " operator=" + groupRoles(t)["operators"].role
		if roles != wantRoles {
			t.Fatalf("%s: IAM_ROLES %q, want %q", m.function, roles, wantRoles)
		}
		for _, kv := range strings.Fields(roles) {
			name, iam, _ := strings.Cut(kv, "=")
			if iam == role {
				return route.Allows([]string{name})
			}
		}
		return false
	}
	return route.Allows(rolesOf(c))
}

func TestEveryAuthModeGivesTheSameOutcome(t *testing.T) {
	app := load(t, "app.yaml")
	if got := strs(newResolver(t, app, map[string]string{}).value(app.get("Parameters", "AuthMode", "AllowedValues").n)); !slices.Equal(got, authModes) {
		t.Fatalf("AuthMode allows %v, want %v", got, authModes)
	}
	if app.get("Resources", "BackofficeApi", "Properties", "Policy").ok() {
		t.Fatal("the API has a resource policy: the evaluator does not model it")
	}
	for _, mode := range authModes {
		t.Run(mode, func(t *testing.T) {
			r := newResolver(t, app, appParams(t, mode))
			ms := methods(t, r)
			var routes []string
			for _, m := range ms {
				routes = append(routes, m.route)
			}
			var table []string
			for _, rt := range authz.Routes {
				table = append(table, rt.Method+" "+rt.Path)
			}
			sort.Strings(routes)
			sort.Strings(table)
			if !slices.Equal(routes, table) {
				t.Fatalf("the API's routes %v are not the table's %v", routes, table)
			}
			if r.str("ProdStage", "StageName") != "prod" || !r.included(r.str("ProdStage", "DeploymentId")) {
				t.Fatal("the prod stage does not deploy this mode's deployment")
			}
			for _, c := range callers {
				var reach, pastGateway []string
				for _, m := range ms {
					g := gateway(t, r, m, c)
					if g {
						pastGateway = append(pastGateway, m.route)
					}
					if g && function(t, r, m, c, mode) {
						reach = append(reach, m.route)
					}
				}
				sort.Strings(reach)
				sort.Strings(pastGateway)
				if !slices.Equal(reach, want[c.name]) {
					t.Errorf("%s reaches %v, want %v", c.name, reach, want[c.name])
				}
				// Only V1Claims leaves the role to the function (a Cognito
				// authorizer cannot check custom claims); every other mode
				// keeps callers out at the gateway.
				if mode != "V1Claims" && !slices.Equal(pastGateway, want[c.name]) {
					t.Errorf("%s gets past the gateway to %v, want %v", c.name, pastGateway, want[c.name])
				}
				if c.anonymous && len(pastGateway) > 0 {
					t.Errorf("anonymous callers get past the gateway to %v", pastGateway)
				}
			}
		})
	}
}

// The Lambda authorizer mode's settings: the issuer and client come from the
// identity stack, the cache TTL is a parameter.
func TestLambdaAuthorizerSettings(t *testing.T) {
	app := load(t, "app.yaml")
	r := newResolver(t, app, appParams(t, "LambdaAuthorizer"))
	env := func(k string) string { return r.str("AuthorizerFunction", "Environment", "Variables", k) }
	if env("ISSUER") != "https://cognito-idp."+testRegion+".amazonaws.com/UserPool" || env("APP_CLIENT_ID") != "AppClient" || env("TOKEN_USE") != "id" {
		t.Errorf("authorizer environment: ISSUER=%s APP_CLIENT_ID=%s TOKEN_USE=%s", env("ISSUER"), env("APP_CLIENT_ID"), env("TOKEN_USE"))
	}
	if !app.get("Resources", "TokenAuthorizer", "Properties", "AuthorizerResultTtlInSeconds").is("!Ref", "AuthorizerCacheTtl") {
		t.Error("the authorizer's cache TTL must be the AuthorizerCacheTtl parameter")
	}
	if !regexp.MustCompile(r.str("TokenAuthorizer", "IdentityValidationExpression")).MatchString("Bearer aaa.bbb.ccc") {
		t.Error("the token validation expression refuses a bearer JWT")
	}
	// Off in the other modes.
	other := newResolver(t, app, appParams(t, "IAM"))
	for _, id := range []string{"AuthorizerFunction", "TokenAuthorizer", "AuthorizerRole", "CognitoAuthorizer"} {
		if other.included(id) {
			t.Errorf("%s exists in IAM mode", id)
		}
	}
}

// The identity pool maps roles only from the token (the groups' roles,
// cognito:preferred_role), gives nothing to a token without one, and the
// roles trust only this identity pool's authenticated identities.
func TestIdentityPoolTakesRolesOnlyFromTheToken(t *testing.T) {
	tpl := load(t, "identity.yaml")
	res := tpl.get("Resources")
	pools := resourcesOfType(tpl, "AWS::Cognito::IdentityPool")
	attachments := resourcesOfType(tpl, "AWS::Cognito::IdentityPoolRoleAttachment")
	if len(pools) != 1 || len(attachments) != 1 {
		t.Fatalf("identity pools %v, role attachments %v: want one of each", pools, attachments)
	}
	pool := res.get(pools[0], "Properties")
	if pool.get("AllowUnauthenticatedIdentities").str() != "false" || pool.get("AllowClassicFlow").str() == "true" {
		t.Error("the identity pool must refuse unauthenticated identities and the classic flow")
	}
	prov := pool.get("CognitoIdentityProviders").items()
	if len(prov) != 1 || !prov[0].get("ProviderName").is("!GetAtt", "UserPool.ProviderName") || !prov[0].get("ClientId").is("!Ref", "AppClient") {
		t.Error("the identity pool's only provider must be the stack's pool and app client")
	}
	att := res.get(attachments[0], "Properties")
	if !att.get("IdentityPoolId").is("!Ref", pools[0]) {
		t.Error("the role attachment is not the identity pool's")
	}
	if att.get("Roles").ok() {
		t.Error("no default authenticated/unauthenticated role: a token without a group role must get nothing")
	}
	maps := att.get("RoleMappings")
	if len(maps.keys()) != 1 {
		t.Fatalf("role mappings %v: want one, for the user pool", maps.keys())
	}
	m := maps.get(maps.keys()[0])
	if m.get("Type").str() != "Token" || m.get("AmbiguousRoleResolution").str() != "Deny" || m.get("RulesConfiguration").ok() {
		t.Error("the role mapping must be Type Token, AmbiguousRoleResolution Deny, without rules")
	}
	if !m.get("IdentityProvider").is("!Sub", "${UserPool.ProviderName}:${AppClient}") {
		t.Errorf("the role mapping is for %s, want the stack's pool and app client", nodeText(m.get("IdentityProvider").n))
	}
	for group, gr := range groupRoles(t) {
		if gr.role == "" {
			t.Errorf("group %s carries no role", group)
			continue
		}
		role := res.get(gr.role)
		if role.get("Type").str() != "AWS::IAM::Role" || role.get("DeletionPolicy").str() != "Retain" || role.get("UpdateReplacePolicy").str() != "Retain" {
			t.Errorf("%s: an IAM role, retained", gr.role)
		}
		if role.get("Properties", "Policies").ok() || role.get("Properties", "ManagedPolicyArns").ok() {
			t.Errorf("%s: its permissions come from the app stack only", gr.role)
		}
		sts := role.get("Properties", "AssumeRolePolicyDocument", "Statement").items()
		if len(sts) != 1 {
			t.Fatalf("%s: want one trust statement", gr.role)
		}
		st := sts[0]
		cond := st.get("Condition")
		if st.get("Effect").str() != "Allow" || st.get("Principal", "Federated").str() != "cognito-identity.amazonaws.com" ||
			st.get("Action").str() != "sts:AssumeRoleWithWebIdentity" ||
			!cond.get("StringEquals", "cognito-identity.amazonaws.com:aud").is("!Ref", pools[0]) ||
			cond.get("ForAnyValue:StringLike", "cognito-identity.amazonaws.com:amr").str() != "authenticated" || len(cond.keys()) != 2 {
			t.Errorf("%s: the trust policy must name the identity pool (aud) and authenticated identities (amr) only", gr.role)
		}
	}
	for _, id := range append(pools, attachments...) {
		if res.get(id, "DeletionPolicy").str() != "Retain" || res.get(id, "UpdateReplacePolicy").str() != "Retain" {
			t.Errorf("%s: retained like the pool", id)
		}
	}
}
