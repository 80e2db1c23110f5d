package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
)

// ErrUnauthorized is the error a Lambda authorizer returns for API Gateway
// to answer 401: API Gateway recognises it by this exact message (aws-lambda-go's
// events/README_ApiGatewayCustomAuthorizer.md, after the TOKEN authorizer
// sample of the API Gateway documentation); any other error is a 500.
var ErrUnauthorized = errors.New("Unauthorized")

// Context keys the authorizer passes to the functions
// (requestContext.authorizer.<key>).
const (
	ContextUsername = "username"
	ContextRole     = "role"
	ContextRoles    = "roles" // space-separated
	ContextSub      = "sub"
)

// Authorizer is the app stack's TOKEN Lambda authorizer: it verifies the
// Cognito token and answers an IAM policy that allows exactly the routes the
// token's roles may call (Routes), for API Gateway to cache per token.
type Authorizer struct {
	verifier *Verifier
	log      *zap.Logger
}

// NewAuthorizer returns an authorizer over v (log: nil → no logs).
func NewAuthorizer(v *Verifier, log *zap.Logger) *Authorizer {
	if log == nil {
		log = zap.NewNop()
	}
	return &Authorizer{verifier: v, log: log}
}

// Handle answers one authorization request. An invalid, expired or foreign
// token is ErrUnauthorized (401); a valid token whose roles call no route
// gets a Deny policy (403); otherwise an Allow policy for the role's routes,
// so API Gateway answers 403 for the others — and the cached policy is right
// for every route, whichever one the first request was for: with caching on,
// API Gateway applies the cached policy to every method of the API
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html).
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	base, err := apiBase(req.MethodArn)
	if err != nil {
		a.log.Error("bad method ARN", zap.String("method_arn", req.MethodArn), zap.Error(err))
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	id, err := a.verifier.Verify(ctx, req.AuthorizationToken)
	if errors.Is(err, ErrInvalidToken) {
		a.log.Info("token refused", zap.Error(err)) // the error names the check, never the token
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("verify token: %w", err)
	}
	resp := Policy(base, id)
	a.log.Info("authorized", zap.String(ContextSub, id.Subject), zap.String(ContextRole, id.Role),
		zap.String("effect", resp.PolicyDocument.Statement[0].Effect), zap.Int("routes", len(resp.PolicyDocument.Statement[0].Resource)))
	return resp, nil
}

// Policy is the authorizer's answer for id on the API stage base
// (arn:…:execute-api:<region>:<account>:<api>/<stage>).
func Policy(base string, id Identity) events.APIGatewayCustomAuthorizerResponse {
	resp := events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: id.Subject,
		Context: map[string]any{
			ContextUsername: id.Username, ContextRole: id.Role,
			ContextRoles: strings.Join(id.Roles, " "), ContextSub: id.Subject,
		},
	}
	st := events.IAMPolicyStatement{Action: []string{"execute-api:Invoke"}, Effect: "Allow"}
	for _, r := range RoutesFor(id.Roles) {
		st.Resource = append(st.Resource, MethodARN(base, r))
	}
	if len(st.Resource) == 0 {
		st.Effect, st.Resource = "Deny", []string{base + "/*"}
	}
	resp.PolicyDocument = events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{st}}
	return resp
}

// MethodARN is the execute-api ARN of route r on the stage base.
func MethodARN(base string, r Route) string {
	return base + "/" + r.Method + r.Path
}

// apiBase cuts a method ARN
// (arn:aws:execute-api:<region>:<account>:<api>/<stage>/<method>/<path>)
// down to its stage.
func apiBase(methodArn string) (string, error) {
	parts := strings.SplitN(methodArn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return "", fmt.Errorf("method arn %q: not an execute-api ARN", methodArn)
	}
	path := strings.SplitN(parts[5], "/", 3)
	if len(path) != 3 || path[0] == "" || path[1] == "" {
		return "", fmt.Errorf("method arn %q: no API and stage", methodArn)
	}
	return strings.Join(parts[:5], ":") + ":" + path[0] + "/" + path[1], nil
}
