// Command backoffice is the example app stack's function (deploy/aws/app.yaml):
// one binary behind both example routes. The route's REQUIRED_ROLES lists
// the roles that may call it. With CHECK_ROLE_CLAIM=true (pools on
// pre-token V1_0, whose tokens carry no scopes) it checks the role claims
// the Cognito authorizer passes in the request context; with scopes (V2_0)
// API Gateway has already checked them.
package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type route struct {
	required  []string
	checkRole bool
}

func (r route) handle(_ context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	claims, _ := req.RequestContext.Authorizer["claims"].(map[string]any)
	if r.checkRole && !r.allowed(claims) {
		return reply(403, map[string]string{"message": "this route needs one of the roles: " + strings.Join(r.required, ", ")}), nil
	}
	user, _ := claims["cognito:username"].(string)
	if user == "" {
		user, _ = claims["username"].(string)
	}
	return reply(200, map[string]string{"route": req.Path, "user": user}), nil
}

// allowed reads the roles claim (space-separated in V1 ID tokens) and role.
func (r route) allowed(claims map[string]any) bool {
	held := map[string]bool{}
	if s, ok := claims["roles"].(string); ok {
		for _, role := range strings.Fields(s) {
			held[role] = true
		}
	}
	if s, ok := claims["role"].(string); ok {
		held[s] = true
	}
	for _, want := range r.required {
		if held[want] {
			return true
		}
	}
	return false
}

func reply(status int, body any) events.APIGatewayProxyResponse {
	b, _ := json.Marshal(body)
	return events.APIGatewayProxyResponse{StatusCode: status, Body: string(b), Headers: map[string]string{"Content-Type": "application/json"}}
}

func main() {
	r := route{required: strings.Fields(os.Getenv("REQUIRED_ROLES")), checkRole: os.Getenv("CHECK_ROLE_CLAIM") == "true"}
	if len(r.required) == 0 {
		os.Stderr.WriteString("REQUIRED_ROLES is not set: name the roles that may call this route\n")
		os.Exit(1)
	}
	lambda.Start(r.handle)
}
