package security

import (
	"strings"

	"github.com/idmirror/idmirror"
)

// FromChange derives the security events of one history item, given the
// entity's full state after it (User.Fields(), Group.Fields(), ...), under
// the role map in force: a role grant for every membership the change adds that gives
// a role, a disable or enable of a holder of the most privileged role (the
// map's first), a group definition change, a role map change. Pool
// configuration changes and tombstones raise nothing here (the reconcile's
// safety valve reports mass deletions itself).
func FromChange(c idmirror.Change, after map[string]string, roles idmirror.RoleMap) []Event {
	base := Event{PoolID: c.PoolID, Actor: c.Actor.String(), Source: string(c.Source), At: c.At}
	var out []Event
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
		groups, ok := c.Fields["groups"]
		if ok {
			before := set(groups.Before)
			for _, g := range splitList(groups.After) {
				if before[g] {
					continue
				}
				for _, r := range roles.RolesFor([]string{g}) {
					ev := base
					ev.Kind, ev.Role, ev.Group, ev.Sub = RoleGranted, r.Name, g, c.Key
					out = append(out, ev)
				}
			}
		}
		if en, ok := c.Fields["enabled"]; ok && en.Before != "" && en.Before != en.After && len(roles.Roles) > 0 {
			top := roles.Roles[0]
			held := splitList(after["groups"])
			if len(roles.RolesFor(held)) > 0 && roles.RolesFor(held)[0].Name == top.Name {
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

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, v := range splitList(s) {
		m[v] = true
	}
	return m
}

// Watch returns a mirror observer (mirror.Store.Observe) that emits the
// security events of every history item the store commits, under roles.
func Watch(e *Emitter, roles idmirror.RoleMap) idmirror.ChangeObserver {
	return func(c idmirror.Change, after map[string]string) {
		for _, ev := range FromChange(c, after, roles) {
			e.Emit(ev)
		}
	}
}
