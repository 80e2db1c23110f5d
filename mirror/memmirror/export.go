package memmirror

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/workers"
)

// Changes calls fn for every change of the pool observed in the window
// (From and To inclusive; zero To: now), in time order (then by entity, as
// the table's byDay index orders them). fn runs without the store's lock, so
// it may call the store.
func (s *Store) Changes(ctx context.Context, q idmirror.ChangeQuery, fn func(idmirror.Change) error) error {
	to := q.To
	if to.IsZero() {
		to = time.Now()
	}
	if q.PoolID == "" || q.From.IsZero() || q.From.After(to) {
		return fmt.Errorf("%w: changes: need a pool and a From <= To", idmirror.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	lo, hi := fmtTime(q.From.UTC()), fmtTime(to)+skHighest
	type sorted struct {
		daySK, sk string
		c         idmirror.Change
	}
	var all []sorted
	add := func(daySK, sk string, c idmirror.Change) {
		if daySK >= lo && daySK <= hi && (q.Source == "" || c.Source == q.Source) {
			all = append(all, sorted{daySK, sk, cloneChange(c)})
		}
	}
	s.mu.RLock()
	if p := s.pool(q.PoolID, false); p != nil {
		for _, e := range p.users {
			for _, h := range e.history {
				add(h.daySK, h.sk, h.e.Change)
			}
		}
		collectChanges(p.groups, add)
		collectChanges(p.configs, add)
		collectChanges(p.roleMaps, add)
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].daySK != all[j].daySK {
			return all[i].daySK < all[j].daySK
		}
		return all[i].sk < all[j].sk
	})
	for _, c := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(c.c); err != nil {
			return err
		}
	}
	return nil
}

func collectChanges[T any](coll map[string]*entity[T], add func(daySK, sk string, c idmirror.Change)) {
	for _, e := range coll {
		for _, h := range e.history {
			add(h.daySK, h.sk, h.e.Change)
		}
	}
}

// ExportUsers streams every user of the pool, tombstones included: the
// pool's users are spread over 16 shards (as the table's byPool index
// spreads them), read by opts.Segments goroutines, so fn is called from
// several goroutines at once, without the store's lock. With opts.AsOf each
// user is as it was then (users the mirror first saw later are skipped).
// opts.PageSize means nothing here. The first error of fn stops the export
// and is returned.
func (s *Store) ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error {
	n := opts.Segments
	if n <= 0 {
		n = 4
	}
	return workers.Run(ctx, min(n, userShards), func(ctx context.Context, emit func(int) error) error {
		for shard := range userShards {
			if err := emit(shard); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, shard int) error {
		return s.exportShard(ctx, pool, shard, opts, fn)
	})
}

func (s *Store) exportShard(ctx context.Context, pool string, shard int, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error {
	var recs []idmirror.UserRecord
	s.mu.RLock()
	if p := s.pool(pool, false); p != nil {
		for sub, e := range p.users {
			if e.rec != nil && shardOf(sub, userShards) == shard {
				recs = append(recs, cloneUserRecord(*e.rec))
			}
		}
	}
	s.mu.RUnlock()
	sort.Slice(recs, func(i, j int) bool { return recs[i].Sub < recs[j].Sub })
	for _, rec := range recs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("export shard %d: %w", shard, err)
		}
		if !opts.AsOf.IsZero() {
			u, err := s.UserAsOf(ctx, pool, rec.Sub, opts.AsOf)
			if errors.Is(err, idmirror.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			rec = idmirror.UserRecord{User: u}
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
