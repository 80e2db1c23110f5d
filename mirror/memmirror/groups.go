package memmirror

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/idmirror/idmirror"
)

// whole says where an entity observed whole lives.
type whole[T any] struct {
	coll func(*pool) map[string]*entity[T]
	pk   func(pool, key string) string
}

var (
	groupsOf = whole[idmirror.Group]{func(p *pool) map[string]*entity[idmirror.Group] { return p.groups }, groupPK}
	configOf = whole[idmirror.PoolConfig]{func(p *pool) map[string]*entity[idmirror.PoolConfig] { return p.configs },
		func(pool, _ string) string { return configPK(pool) }}
	roleMapOf = whole[idmirror.RoleMap]{func(p *pool) map[string]*entity[idmirror.RoleMap] { return p.roleMaps },
		func(pool, _ string) string { return roleMapPK(pool) }}
)

// putWhole writes an entity observed whole, with one clock (groups, the
// pool configuration, the role map), as mirror.Store does.
func putWhole[T any](ctx context.Context, s *Store, wh whole[T], w idmirror.WholeWrite[T]) (idmirror.Outcome, error) {
	var done *idmirror.Entry[T]
	o, err := s.retry(ctx, "put "+w.Kind+" "+w.Key, func() (idmirror.Outcome, error) {
		cur := readWhole(s, wh, w.PoolID, w.Key)
		m, err := idmirror.MergeWhole(cur, w)
		if err != nil || m.Outcome == idmirror.Stale {
			return m.Outcome, err
		}
		if s.beforeCommit != nil {
			s.beforeCommit()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.pool(w.PoolID, true)
		e := wh.coll(p)[w.Key]
		if e == nil {
			e = &entity[T]{}
		}
		var stored int64
		if e.rec != nil {
			stored = e.rec.Version
		}
		if stored != m.Next.Version-1 {
			return 0, errRetry
		}
		pk := wh.pk(w.PoolID, w.Key)
		var written []idmirror.ItemDigest
		if m.History != nil {
			h := newHistory(pk, m.History)
			var ok bool
			if e.history, ok = insertHistory(e.history, h); !ok {
				return 0, errRetry
			}
			written = append(written, digest(pk, h.sk, h.e))
		}
		next := idmirror.WholeRecord[T]{State: clone(m.Next.State), Deleted: m.Next.Deleted, Meta: cloneMeta(m.Next.Meta)}
		e.rec = &next
		p.appendJournal(w.PoolID, pk, next.Version, 0, append([]idmirror.ItemDigest{digest(pk, skState, e.rec)}, written...))
		wh.coll(p)[w.Key] = e
		done = m.History
		return m.Outcome, nil
	})
	if err == nil && done != nil && s.observe != nil {
		after := w.Flatten(done.State)
		if w.Delete {
			after["deleted"] = "true"
		}
		c := done.Change
		s.observe(idmirror.Applied{Kind: w.Kind, PoolID: w.PoolID, Key: w.Key, Change: &c, After: after})
	}
	return o, err
}

func readWhole[T any](s *Store, wh whole[T], pool, key string) *idmirror.WholeRecord[T] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil || wh.coll(p)[key] == nil || wh.coll(p)[key].rec == nil {
		return nil
	}
	r := *wh.coll(p)[key].rec
	r.State = clone(r.State)
	return &r
}

// wholeAsOf returns the entity's state after the last change observed at or
// before t; ErrNotFound (naming what) if the mirror had no record of it yet.
func wholeAsOf[T any](ctx context.Context, s *Store, wh whole[T], pool, key, what string, t time.Time) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.pool(pool, false); p != nil && wh.coll(p)[key] != nil {
		if h := lastAsOf(wh.coll(p)[key].history, t); h != nil {
			return clone(h.e.State), nil
		}
	}
	return zero, fmt.Errorf("%s as of %s: %w", what, fmtTime(t), idmirror.ErrNotFound)
}

// PutGroup applies one observation of a group definition.
func (s *Store) PutGroup(ctx context.Context, w idmirror.GroupWrite) (idmirror.Outcome, error) {
	ww, err := w.Whole()
	if err != nil {
		return 0, err
	}
	return putWhole(ctx, s, groupsOf, ww)
}

// GetGroup returns a group's current state (a tombstone has Deleted set).
func (s *Store) GetGroup(ctx context.Context, pool, name string) (idmirror.GroupRecord, error) {
	if err := ctx.Err(); err != nil {
		return idmirror.GroupRecord{}, err
	}
	r := readWhole(s, groupsOf, pool, name)
	if r == nil {
		return idmirror.GroupRecord{}, fmt.Errorf("group %s in %s: %w", name, pool, idmirror.ErrNotFound)
	}
	return idmirror.GroupRecord{Group: r.State, Meta: r.Meta}, nil
}

// Groups returns every group of the pool the mirror knows, tombstones included, by name.
func (s *Store) Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil {
		return nil, nil
	}
	var out []idmirror.GroupRecord
	for _, e := range p.groups {
		if e.rec != nil {
			out = append(out, idmirror.GroupRecord{Group: clone(e.rec.State), Meta: e.rec.Meta})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GroupHistory returns every change of a group definition, oldest first.
func (s *Store) GroupHistory(ctx context.Context, pool, name string) ([]idmirror.Entry[idmirror.Group], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil || p.groups[name] == nil {
		return nil, nil
	}
	return entries(p.groups[name].history), nil
}

// GroupAsOf returns the group as the mirror knew it at t.
func (s *Store) GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error) {
	return wholeAsOf(ctx, s, groupsOf, pool, name, "group "+name+" in "+pool, t)
}

// Members returns the members of a group at t (zero t: now), each with the
// interval that held then, ordered by grant time (then sub): the intervals
// granted at or before t and not revoked at or before t.
func (s *Store) Members(ctx context.Context, pool, group string, t time.Time) ([]idmirror.Membership, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil {
		return nil, nil
	}
	ts := fmtTime(t)
	hi := skMember + ts + skHighest
	var sks []string
	for sk, m := range p.members[group] {
		revoked := fmtTime(m.RevokedAt)
		if t.IsZero() && revoked == "" || !t.IsZero() && sk <= hi && (revoked == "" || revoked > ts) {
			sks = append(sks, sk)
		}
	}
	sort.Strings(sks)
	var out []idmirror.Membership
	for _, sk := range sks {
		out = append(out, cloneMembership(*p.members[group][sk]))
	}
	return out, nil
}

// PutPoolConfig records an observation of the pool's configuration.
func (s *Store) PutPoolConfig(ctx context.Context, cfg idmirror.PoolConfig, at time.Time, src idmirror.Source) (idmirror.Outcome, error) {
	return putWhole(ctx, s, configOf, idmirror.PoolConfigWrite(cfg, at, src))
}

// PoolConfig returns the pool's configuration as last mirrored.
func (s *Store) PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error) {
	if err := ctx.Err(); err != nil {
		return idmirror.PoolConfig{}, idmirror.Meta{}, err
	}
	r := readWhole(s, configOf, pool, "config")
	if r == nil {
		return idmirror.PoolConfig{}, idmirror.Meta{}, fmt.Errorf("configuration of pool %s: %w", pool, idmirror.ErrNotFound)
	}
	return r.State, r.Meta, nil
}

// PutRoleMap records the role map in force for the pool.
func (s *Store) PutRoleMap(ctx context.Context, pool string, m idmirror.RoleMap, at time.Time, src idmirror.Source) (idmirror.Outcome, error) {
	w, err := idmirror.RoleMapWrite(pool, m, at, src)
	if err != nil {
		return 0, err
	}
	return putWhole(ctx, s, roleMapOf, w)
}

// RoleMapAsOf returns the role map in force for the pool at t (zero t: now).
func (s *Store) RoleMapAsOf(ctx context.Context, pool string, t time.Time) (idmirror.RoleMap, error) {
	if t.IsZero() {
		t = time.Now()
	}
	return wholeAsOf(ctx, s, roleMapOf, pool, "rolemap", "role map of pool "+pool, t)
}
