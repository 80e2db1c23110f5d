package main

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func call(r route, claims map[string]any) int {
	req := events.APIGatewayProxyRequest{Path: "/x"}
	req.RequestContext.Authorizer = map[string]any{"claims": claims}
	resp, _ := r.handle(context.Background(), req)
	return resp.StatusCode
}

func TestRoutesCheckTheRoleClaim(t *testing.T) {
	personal := route{required: []string{"admin"}, checkRole: true}
	everyday := route{required: []string{"admin", "operator"}, checkRole: true}
	admin := map[string]any{"cognito:username": "ann", "role": "admin", "roles": "admin operator"}
	operator := map[string]any{"cognito:username": "otto", "role": "operator", "roles": "operator"}
	outsider := map[string]any{"cognito:username": "olive", "custom:role": "admin"}
	for _, c := range []struct {
		r      route
		claims map[string]any
		want   int
	}{
		{personal, admin, 200}, {personal, operator, 403}, {personal, outsider, 403},
		{everyday, admin, 200}, {everyday, operator, 200}, {everyday, outsider, 403},
		{route{required: []string{"admin"}}, operator, 200}, // scopes mode: API Gateway has checked already
	} {
		if got := call(c.r, c.claims); got != c.want {
			t.Errorf("%v with %v: %d, want %d", c.r.required, c.claims, got, c.want)
		}
	}
}
