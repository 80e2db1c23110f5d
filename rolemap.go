package idmirror

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Role is one role of the role map: the groups that grant it and the OAuth
// scopes an access token of its holder carries.
type Role struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
	Scopes []string `json:"scopes,omitempty"`
}

// RoleMap lists roles in precedence order: the first role a user holds is
// their `role` claim.
type RoleMap struct {
	Roles []Role `json:"roles"`
}

// DefaultRoleMap is the seed's model: admins and operators.
func DefaultRoleMap() RoleMap {
	return RoleMap{Roles: []Role{
		{Name: "admin", Groups: []string{"admins"}, Scopes: []string{"backoffice/everyday", "backoffice/personal-data"}},
		{Name: "operator", Groups: []string{"operators"}, Scopes: []string{"backoffice/everyday"}},
	}}
}

var (
	roleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	// Cognito group names: 1–128 of [\p{L}\p{M}\p{S}\p{N}\p{P}]; we reject spaces and empties.
	groupNameRE = regexp.MustCompile(`^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$`)
	// OAuth scope tokens (RFC 6749 §3.3): printable ASCII without space, quote or backslash.
	scopeRE = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,256}$`)
)

// ParseRoleMap decodes and validates a role map given as JSON.
func ParseRoleMap(data []byte) (RoleMap, error) {
	var m RoleMap
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return RoleMap{}, fmt.Errorf("%w: role map: %v", ErrInvalid, err)
	}
	if err := m.Validate(); err != nil {
		return RoleMap{}, err
	}
	for i := range m.Roles {
		if len(m.Roles[i].Scopes) == 0 {
			m.Roles[i].Scopes = nil // "scopes": [] and no scopes are one thing
		}
	}
	return m, nil
}

// Validate checks the map: at least one role, unique well-formed role names,
// each role granted by at least one group, no group granting two roles,
// well-formed scopes.
func (m RoleMap) Validate() error {
	if len(m.Roles) == 0 {
		return fmt.Errorf("%w: role map: no roles", ErrInvalid)
	}
	roles := map[string]bool{}
	groups := map[string]string{}
	for i, r := range m.Roles {
		if !roleNameRE.MatchString(r.Name) {
			return fmt.Errorf("%w: role map: role %d: name %q must match %s", ErrInvalid, i, r.Name, roleNameRE)
		}
		if roles[r.Name] {
			return fmt.Errorf("%w: role map: role %q listed twice", ErrInvalid, r.Name)
		}
		roles[r.Name] = true
		if len(r.Groups) == 0 {
			return fmt.Errorf("%w: role map: role %q has no groups", ErrInvalid, r.Name)
		}
		for _, g := range r.Groups {
			if !groupNameRE.MatchString(g) {
				return fmt.Errorf("%w: role map: role %q: bad group name %q", ErrInvalid, r.Name, g)
			}
			if other, ok := groups[g]; ok {
				return fmt.Errorf("%w: role map: group %q grants both %q and %q", ErrInvalid, g, other, r.Name)
			}
			groups[g] = r.Name
		}
		for _, s := range r.Scopes {
			if !scopeRE.MatchString(s) {
				return fmt.Errorf("%w: role map: role %q: bad scope %q", ErrInvalid, r.Name, s)
			}
		}
	}
	return nil
}

// RolesFor returns the roles the groups grant, in precedence order.
func (m RoleMap) RolesFor(groups []string) []Role {
	var out []Role
	for _, r := range m.Roles {
		if anyIn(r.Groups, groups) {
			out = append(out, r)
		}
	}
	return out
}

// GroupsFor returns the groups that grant role name (nil if no such role).
func (m RoleMap) GroupsFor(name string) []string {
	for _, r := range m.Roles {
		if r.Name == name {
			return r.Groups
		}
	}
	return nil
}

func anyIn(want, have []string) bool {
	for _, w := range want {
		for _, h := range have {
			if w == h {
				return true
			}
		}
	}
	return false
}

// Fields flattens the role map for diffing: one field per role, and the order.
func (m RoleMap) Fields() map[string]string {
	f := map[string]string{}
	var order []string
	for _, r := range m.Roles {
		order = append(order, r.Name)
		f["role:"+r.Name] = "groups=" + strings.Join(r.Groups, ",") + ";scopes=" + strings.Join(r.Scopes, ",")
	}
	f["order"] = strings.Join(order, ",")
	return f
}
