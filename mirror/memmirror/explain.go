package memmirror

import (
	"context"
	"fmt"

	"github.com/idmirror/idmirror"
)

// ExplainChange is mirror.Store.ExplainChange: the first history item of
// the entity at or after e.Since that made e's change gets e.Actor if its
// actor is still unknown (and the grant's interval too, if there is one).
func (s *Store) ExplainChange(ctx context.Context, e idmirror.Explanation) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	e.Actor.Inferred = true // see idmirror.Actor.Inferred
	if (e.Kind != "user" && e.Kind != "group") || e.PoolID == "" || e.Key == "" || e.Field == "" || e.Actor.IsZero() {
		return false, fmt.Errorf("%w: explain: need a user or group, a pool, a key, a field and an actor", idmirror.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pool(e.PoolID, false)
	if p == nil {
		return false, nil
	}
	lo := skHistory + fmtTime(e.Since)
	if e.Kind == "group" {
		g := p.groups[e.Key]
		if g == nil {
			return false, nil
		}
		for _, h := range g.history {
			if h.sk < lo {
				continue
			}
			found, attach := e.Explains(h.e.Change)
			if found {
				if attach {
					h.e.Actor = e.Actor
				}
				return attach, nil
			}
		}
		return false, nil
	}
	u := p.users[e.Key]
	if u == nil {
		return false, nil
	}
	for _, h := range u.history {
		if h.sk < lo {
			continue
		}
		found, attach := e.Explains(h.e.Change)
		if !found {
			continue
		}
		if attach {
			h.e.Actor = e.Actor
			if e.Group != "" {
				if m := p.members[e.Group][memberSK(h.e.At, e.Key)]; m != nil && m.GrantedActor.Unknown() {
					m.GrantedActor = e.Actor
				}
			}
		}
		return attach, nil
	}
	return false, nil
}
