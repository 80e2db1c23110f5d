package security

import (
	"strings"

	"github.com/idmirror/idmirror"
)

// FromApplied derives the security events of one mirror write under the
// role map in force: a role grant for every membership the write opened
// that gives a role (each with its own granter: a refresh credits a call
// only with the change that call makes), a disable or enable of a holder of
// the most privileged role (the map's first), a group definition change, a
// role map change. Pool configuration changes and tombstones raise nothing
// here (the reconcile's safety valve reports mass deletions itself).
func FromApplied(a idmirror.Applied, roles idmirror.RoleMap) []Event {
	var out []Event
	for _, g := range a.Grants {
		for _, r := range roles.RolesFor([]string{g.Group}) {
			out = append(out, Event{Kind: RoleGranted, PoolID: a.PoolID, Role: r.Name, Group: g.Group, Sub: g.Sub,
				Actor: g.GrantedActor.String(), Source: string(g.GrantedBy), At: g.GrantedAt})
		}
	}
	if a.Change == nil {
		return out
	}
	c := *a.Change
	base := Event{PoolID: c.PoolID, Actor: c.Actor.String(), Source: string(c.Source), At: c.At}
	switch c.Kind {
	case "rolemap":
		ev := base
		ev.Kind = RoleMapChanged
		ev.Detail = changedNames(c.Fields)
		out = append(out, ev)
	case "group":
		ev := base
		ev.Kind = GroupChanged
		ev.Group = c.Key
		if r := roles.RolesFor([]string{c.Key}); len(r) > 0 {
			ev.Role = r[0].Name
		}
		ev.Detail = changedNames(c.Fields)
		out = append(out, ev)
	case "user":
		if en, ok := c.Fields["enabled"]; ok && en.Before != "" && en.Before != en.After && len(roles.Roles) > 0 {
			top := roles.Roles[0]
			if held := roles.RolesFor(splitList(a.After["groups"])); len(held) > 0 && held[0].Name == top.Name {
				ev := base
				ev.Role, ev.Sub = top.Name, c.Key
				ev.Kind = PrivilegedDisabled
				if en.After == "true" {
					ev.Kind = PrivilegedEnabled
				}
				out = append(out, ev)
			}
		}
	}
	return out
}

func changedNames(f map[string]idmirror.FieldChange) string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	return strings.Join(idmirror.SortedUnique(names), ",")
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Watch returns a mirror observer (mirror.Store.Observe) that emits the
// security events of every write the store commits, under roles.
func Watch(e *Emitter, roles idmirror.RoleMap) idmirror.ChangeObserver {
	return func(a idmirror.Applied) {
		for _, ev := range FromApplied(a, roles) {
			e.Emit(ev)
		}
	}
}
