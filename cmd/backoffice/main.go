// Command backoffice is the example app stack's function (deploy/aws/app.yaml):
// one binary behind both example routes. Whatever the stack's AuthMode, it
// checks again — defence in depth — that the caller may call the route, with
// the same route→role table the gateway's checks come from (authz.Routes).
// ROLE_SOURCE says where the caller's roles are:
//
//   - claims (AuthMode=V1Claims): the role claims of the ID token the Cognito
//     authorizer passes (roles space-separated, role); here this is the only check.
//   - scopes (V2Scopes): the access token's scope claim must hold the route's scope.
//   - authorizer (LambdaAuthorizer): the roles the Lambda authorizer put in its context.
//   - iam (IAM): the IAM role the caller assumed through the identity pool;
//     IAM_ROLES maps role names to IAM role names ("admin=RoleA operator=RoleB").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/idmirror/idmirror/authz"
)

// Where the caller's roles are (ROLE_SOURCE).
const (
	sourceClaims     = "claims"
	sourceScopes     = "scopes"
	sourceAuthorizer = "authorizer"
	sourceIAM        = "iam"
)

type handler struct {
	source   string
	iamRoles map[string]string // IAM role name → role
}

func newHandler(source, iamRoles string) (*handler, error) {
	h := &handler{source: source, iamRoles: map[string]string{}}
	switch source {
	case sourceClaims, sourceScopes, sourceAuthorizer:
	case sourceIAM:
		for _, kv := range strings.Fields(iamRoles) {
			role, name, ok := strings.Cut(kv, "=")
			if !ok || role == "" || name == "" {
				return nil, fmt.Errorf("IAM_ROLES %q: want role=IAM-role-name pairs", kv)
			}
			h.iamRoles[name] = role
		}
		if len(h.iamRoles) == 0 {
			return nil, errors.New("IAM_ROLES is empty: map each role to its IAM role name")
		}
	default:
		return nil, fmt.Errorf("ROLE_SOURCE %q: want claims, scopes, authorizer or iam", source)
	}
	return h, nil
}

func (h *handler) handle(_ context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	route, ok := authz.Lookup(req.HTTPMethod, req.Resource)
	if !ok {
		return reply(403, map[string]string{"message": "no such route"}), nil
	}
	user, allowed := h.check(route, req.RequestContext)
	if !allowed {
		return reply(403, map[string]string{"message": "this route needs one of the roles: " + strings.Join(route.Roles, ", ")}), nil
	}
	return reply(200, map[string]string{"route": route.Path, "user": user}), nil
}

// check returns the caller's name and whether they may call the route.
func (h *handler) check(route authz.Route, rc events.APIGatewayProxyRequestContext) (string, bool) {
	claims, _ := rc.Authorizer["claims"].(map[string]any)
	switch h.source {
	case sourceClaims:
		user, _ := claims["cognito:username"].(string)
		return user, route.Allows(authz.ParseRoles(claims["roles"], claims["role"]))
	case sourceScopes:
		user, _ := claims["username"].(string)
		scope, _ := claims["scope"].(string)
		return user, slices.Contains(strings.Fields(scope), route.Scope)
	case sourceAuthorizer:
		user, _ := rc.Authorizer[authz.ContextUsername].(string)
		return user, route.Allows(authz.ParseRoles(rc.Authorizer[authz.ContextRoles], rc.Authorizer[authz.ContextRole]))
	case sourceIAM:
		// arn:aws:sts::<account>:assumed-role/<role name>/<session>
		_, rest, _ := strings.Cut(rc.Identity.UserArn, ":assumed-role/")
		name, _, _ := strings.Cut(rest, "/")
		role, ok := h.iamRoles[name]
		return rc.Identity.CognitoIdentityID, ok && route.Allows([]string{role})
	}
	return "", false
}

func reply(status int, body any) events.APIGatewayProxyResponse {
	b, _ := json.Marshal(body)
	return events.APIGatewayProxyResponse{StatusCode: status, Body: string(b), Headers: map[string]string{"Content-Type": "application/json"}}
}

func main() {
	h, err := newHandler(os.Getenv("ROLE_SOURCE"), os.Getenv("IAM_ROLES"))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	lambda.Start(h.handle)
}
