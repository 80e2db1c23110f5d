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
		pk := groupPK(e.PoolID, e.Key)
		for _, h := range g.history {
			if h.sk < lo {
				continue
			}
			found, attach := e.Explains(h.e.Change)
			if found {
				if attach {
					h.e.Actor = e.Actor
					p.appendJournal(e.PoolID, pk, g.rec.Version, p.nextPart(pk, g.rec.Version),
						[]idmirror.ItemDigest{digest(pk, skState, g.rec), digest(pk, h.sk, h.e)})
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
			pk := userPK(e.PoolID, e.Key)
			h.e.Actor = e.Actor
			written := []idmirror.ItemDigest{digest(pk, skState, u.rec), digest(pk, h.sk, h.e)}
			if e.Group != "" {
				sk := memberSK(h.e.At, e.Key)
				if m := p.members[e.Group][sk]; m != nil && m.GrantedActor.Unknown() {
					m.GrantedActor = e.Actor
					written = append(written, digest(groupPK(e.PoolID, e.Group), sk, m))
				}
			}
			// Journaled as the next part of the user's version, as the table does.
			p.appendJournal(e.PoolID, pk, u.rec.Version, p.nextPart(pk, u.rec.Version), written)
		}
		return attach, nil
	}
	return false, nil
}
