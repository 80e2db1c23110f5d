package mempool

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/idmirror/idmirror"
)

// group finds a group (ErrNotFound if there is none). Group names are case
// sensitive.
func (p *pool) group(op, name string) (*idmirror.Group, error) {
	if g := p.groups[name]; g != nil {
		return g, nil
	}
	return nil, errorf(op, idmirror.ErrNotFound, "group %q does not exist", name)
}

// setGroup stores g's fields in the pool.
func (p *pool) setGroup(op string, g idmirror.Group) error {
	if g.Name == "" || g.Precedence != nil && *g.Precedence < 0 {
		return errorf(op, idmirror.ErrInvalid, "group %q: empty name or negative precedence", g.Name)
	}
	ng := copyGroup(idmirror.Group{PoolID: p.id, Name: g.Name, Description: g.Description, Precedence: g.Precedence, RoleArn: g.RoleArn})
	p.groups[g.Name] = &ng
	return nil
}

// CreateGroup creates a group (ErrExists if it is there).
func (s *Service) CreateGroup(ctx context.Context, g idmirror.Group) error {
	return s.do(ctx, Call{Op: "CreateGroup", Pool: g.PoolID, Group: g.Name, Write: true}, func(p *pool) error {
		if p.groups[g.Name] != nil {
			return errorf("CreateGroup", idmirror.ErrExists, "group %q already exists", g.Name)
		}
		return p.setGroup("CreateGroup", g)
	})
}

// UpdateGroup sets a group's description, precedence and role. In doubt:
// what is left out (empty description or role, nil precedence) is cleared,
// as an older UpdateGroup reference says ("If you don't provide a value for
// an attribute, it will be set to the default value"); the current one says
// only that it "updates any of the properties".
func (s *Service) UpdateGroup(ctx context.Context, g idmirror.Group) error {
	return s.do(ctx, Call{Op: "UpdateGroup", Pool: g.PoolID, Group: g.Name, Write: true}, func(p *pool) error {
		if _, err := p.group("UpdateGroup", g.Name); err != nil {
			return err
		}
		return p.setGroup("UpdateGroup", g)
	})
}

// DeleteGroup deletes a group and every membership in it.
func (s *Service) DeleteGroup(ctx context.Context, poolID, name string) error {
	return s.do(ctx, Call{Op: "DeleteGroup", Pool: poolID, Group: name, Write: true}, func(p *pool) error {
		if _, err := p.group("DeleteGroup", name); err != nil {
			return err
		}
		delete(p.groups, name)
		for _, u := range p.users {
			delete(u.groups, name)
		}
		return nil
	})
}

// membership is AdminAddUserToGroup and AdminRemoveUserFromGroup: both
// succeed when there is nothing to do (ErrNotFound for a missing user or
// group). In doubt: Modified does not move (a membership is no attribute).
func (s *Service) membership(ctx context.Context, op, poolID, username, group string, in bool) error {
	return s.do(ctx, Call{Op: op, Pool: poolID, Username: username, Group: group, Write: true}, func(p *pool) error {
		u, err := p.user(op, username)
		if err != nil {
			return err
		}
		if _, err := p.group(op, group); err != nil {
			return err
		}
		if in {
			u.groups[group] = true
		} else {
			delete(u.groups, group)
		}
		return nil
	})
}

// AddToGroup adds a user to a group.
func (s *Service) AddToGroup(ctx context.Context, poolID, username, group string) error {
	return s.membership(ctx, "AdminAddUserToGroup", poolID, username, group, true)
}

// RemoveFromGroup removes a user from a group.
func (s *Service) RemoveFromGroup(ctx context.Context, poolID, username, group string) error {
	return s.membership(ctx, "AdminRemoveUserFromGroup", poolID, username, group, false)
}

// GetGroup reads one group (ErrNotFound if the group is gone).
func (s *Service) GetGroup(ctx context.Context, poolID, name string) (out idmirror.Group, err error) {
	err = s.do(ctx, Call{Op: "GetGroup", Pool: poolID, Group: name}, func(p *pool) error {
		g, err := p.group("GetGroup", name)
		if err == nil {
			out = copyGroup(*g)
		}
		return err
	})
	return out, err
}

// ListGroups returns every group of the pool, sorted by name (a ListGroups
// call logged per page).
func (s *Service) ListGroups(ctx context.Context, poolID string) (out []idmirror.Group, err error) {
	err = s.do(ctx, Call{Op: "ListGroups", Pool: poolID}, func(p *pool) error {
		s.log("ListGroups", poolID, "", s.pages(len(p.groups))-1)
		for _, name := range slices.Sorted(maps.Keys(p.groups)) {
			out = append(out, copyGroup(*p.groups[name]))
		}
		return nil
	})
	return out, err
}

// GroupMembers streams the usernames in a group, a page (a
// ListUsersInGroup call) at a time; ErrNotFound if the group is gone.
func (s *Service) GroupMembers(ctx context.Context, poolID, group string, fn func(username string) error) error {
	return pageThrough(ctx, s, Call{Op: "ListUsersInGroup", Pool: poolID, Group: group}, func(p *pool) ([]entry[string], error) {
		if _, err := p.group("ListUsersInGroup", group); err != nil {
			return nil, err
		}
		var out []entry[string]
		for _, k := range slices.Sorted(maps.Keys(p.users)) {
			if p.users[k].groups[group] {
				out = append(out, entry[string]{k, p.users[k].u.Username})
			}
		}
		return out, nil
	}, func(username string, _ time.Time) error { return fn(username) })
}
