// Package authz decides who may call the back-office app's routes. It holds
// the one route→role table that every authorization mode of the app stack
// (deploy/aws/app.yaml) applies — the Lambda authorizer's IAM policies and
// the example functions' own defence-in-depth check — and the verifier the
// Lambda authorizer uses for Cognito tokens.
package authz

import (
	"slices"
	"strings"
)

// Route is one route of the back-office API: its method and resource path,
// the OAuth scope API Gateway requires for it in V2Scopes mode, and the
// roles that may call it.
type Route struct {
	Method string
	Path   string
	Scope  string
	Roles  []string
}

// Routes is the table: admins call both routes, operators only the everyday
// one, anyone else neither. The role names are the role map's (idmirror's
// DefaultRoleMap); the scopes are those the role map gives each role.
var Routes = []Route{
	{Method: "GET", Path: "/everyday", Scope: "backoffice/everyday", Roles: []string{"admin", "operator"}},
	{Method: "GET", Path: "/personal-data", Scope: "backoffice/personal-data", Roles: []string{"admin"}},
}

// Lookup returns the route with this method and resource path.
func Lookup(method, path string) (Route, bool) {
	for _, r := range Routes {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return Route{}, false
}

// Allows reports whether any of roles may call the route.
func (r Route) Allows(roles []string) bool {
	for _, have := range roles {
		if slices.Contains(r.Roles, have) {
			return true
		}
	}
	return false
}

// RoutesFor returns the routes any of roles may call, in table order.
func RoutesFor(roles []string) []Route {
	var out []Route
	for _, r := range Routes {
		if r.Allows(roles) {
			out = append(out, r)
		}
	}
	return out
}

// ParseRoles reads the role claims the pre-token trigger adds: roles — a
// space-separated string in V1 ID tokens, an array of strings in V2 tokens —
// and role (the highest). Values of any other shape are ignored.
func ParseRoles(roles, role any) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	switch v := roles.(type) {
	case string:
		for _, s := range strings.Fields(v) {
			add(s)
		}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	case []string:
		for _, s := range v {
			add(s)
		}
	}
	if s, ok := role.(string); ok {
		add(s)
	}
	return out
}
