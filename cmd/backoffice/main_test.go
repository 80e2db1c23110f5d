package main

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

type caller struct {
	name       string
	claims     map[string]any // Cognito authorizer (ID token, V1)
	scopeClaim map[string]any // Cognito authorizer (access token, V2)
	context    map[string]any // Lambda authorizer
	userArn    string         // IAM
}

var (
	admin = caller{"admin",
		map[string]any{"cognito:username": "ann", "role": "admin", "roles": "admin operator"},
		map[string]any{"username": "ann", "scope": "openid backoffice/everyday backoffice/personal-data"},
		map[string]any{"username": "ann", "role": "admin", "roles": "admin operator"},
		"arn:aws:sts::123456789012:assumed-role/app-admin/CognitoIdentityCredentials"}
	operator = caller{"operator",
		map[string]any{"cognito:username": "otto", "role": "operator", "roles": "operator"},
		map[string]any{"username": "otto", "scope": "openid backoffice/everyday"},
		map[string]any{"username": "otto", "role": "operator", "roles": "operator"},
		"arn:aws:sts::123456789012:assumed-role/app-operator/CognitoIdentityCredentials"}
	// An outsider who set a look-alike attribute and scope-like text.
	outsider = caller{"outsider",
		map[string]any{"cognito:username": "olive", "custom:role": "admin"},
		map[string]any{"username": "olive", "scope": "openid backoffice/personal-data-x"},
		map[string]any{"username": "olive", "role": "", "roles": ""},
		"arn:aws:sts::123456789012:assumed-role/some-other-role/CognitoIdentityCredentials"}
)

func call(t *testing.T, h *handler, c caller, path string) int {
	t.Helper()
	req := events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: path, Path: path}
	switch h.source {
	case sourceClaims:
		req.RequestContext.Authorizer = map[string]any{"claims": c.claims}
	case sourceScopes:
		req.RequestContext.Authorizer = map[string]any{"claims": c.scopeClaim}
	case sourceAuthorizer:
		req.RequestContext.Authorizer = c.context
	case sourceIAM:
		req.RequestContext.Identity.UserArn = c.userArn
	}
	resp, err := h.handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// In every mode the function's own check gives the table's outcome: admin
// both routes, operator everyday only, outsider neither; unknown routes never.
func TestEveryModeChecksTheRouteTable(t *testing.T) {
	for _, source := range []string{sourceClaims, sourceScopes, sourceAuthorizer, sourceIAM} {
		h, err := newHandler(source, "admin=app-admin operator=app-operator")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			who  caller
			path string
			want int
		}{
			{admin, "/everyday", 200}, {admin, "/personal-data", 200}, {admin, "/other", 403},
			{operator, "/everyday", 200}, {operator, "/personal-data", 403},
			{outsider, "/everyday", 403}, {outsider, "/personal-data", 403},
			{caller{name: "anonymous"}, "/everyday", 403},
		} {
			if got := call(t, h, c.who, c.path); got != c.want {
				t.Errorf("%s: %s GET %s = %d, want %d", source, c.who.name, c.path, got, c.want)
			}
		}
	}
}

func TestBadSettingsAreRefused(t *testing.T) {
	for _, c := range [][2]string{{"", ""}, {"none", ""}, {sourceIAM, ""}, {sourceIAM, "admin"}} {
		if _, err := newHandler(c[0], c[1]); err == nil {
			t.Errorf("ROLE_SOURCE=%q IAM_ROLES=%q accepted", c[0], c[1])
		}
	}
}
