package memmirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/idmirror/idmirror"
)

// The journal, as mirror.Store keeps it (docs/mirror-table.md, "The
// journal"): every write appends, under the same lock, one record to the
// chain of the entity written, with the key and content hash of each item
// it wrote. Content here is the stored Go value as JSON (map keys sorted by
// encoding/json), so the hashes differ from the table's; the chains and the
// check are the same (idmirror.CheckIntegrity).

// contentHash is the SHA-256 (hex) of v's JSON.
func contentHash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Every stored value is plain data; a failure is a programming error.
		panic(fmt.Sprintf("memmirror: hash %T: %v", v, err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

const skState = "STATE"

// appendJournal seals a record of items after the entity's chain head and
// appends it. The caller holds the write lock.
func (p *pool) appendJournal(pool, entity string, version int64, part int, items []idmirror.ItemDigest) {
	r := idmirror.JournalRecord{Entity: entity, Pool: pool, Version: version, Part: part, At: norm(time.Now()), Items: items}
	prev := ""
	if c := p.journals[entity]; len(c) > 0 {
		prev = c[len(c)-1].Hash
	}
	r.Seal(prev)
	p.journals[entity] = append(p.journals[entity], r)
}

// nextPart is the part number of the next record of entity's version.
func (p *pool) nextPart(entity string, version int64) int {
	if c := p.journals[entity]; len(c) > 0 && c[len(c)-1].Version == version {
		return c[len(c)-1].Part + 1
	}
	return 0
}

func digest(pk, sk string, v any) idmirror.ItemDigest {
	return idmirror.ItemDigest{PK: pk, SK: sk, Hash: contentHash(v)}
}

// CheckIntegrity checks each pool's journal against what is stored (see
// mirror.Store.CheckIntegrity).
func (s *Store) CheckIntegrity(ctx context.Context, q idmirror.IntegrityQuery) ([]idmirror.IntegrityReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := map[string]bool{}
	for id := range s.pools {
		if q.Pool == "" || id == q.Pool {
			names[id] = true
		}
	}
	for id := range q.Prior {
		if q.Pool == "" || id == q.Pool {
			names[id] = true
		}
	}
	if q.Pool != "" {
		names[q.Pool] = true
	}
	ids := make([]string, 0, len(names))
	for id := range names {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []idmirror.IntegrityReport
	for _, id := range ids {
		var items []idmirror.StoredItem
		var records []idmirror.JournalRecord
		if p := s.pools[id]; p != nil {
			items = p.storedItems(id)
			for _, c := range p.journals {
				records = append(records, c...)
			}
		}
		out = append(out, idmirror.CheckIntegrity(id, items, records, q.Prior[id]))
	}
	return out, nil
}

// storedItems lists every item of the pool with its content hash.
func (p *pool) storedItems(pool string) []idmirror.StoredItem {
	var out []idmirror.StoredItem
	add := func(pk, sk string, v any) {
		out = append(out, idmirror.StoredItem{PK: pk, SK: sk, Hash: contentHash(v)})
	}
	for sub, e := range p.users {
		pk := userPK(pool, sub)
		if e.rec != nil {
			add(pk, skState, e.rec)
		}
		for _, h := range e.history {
			add(pk, h.sk, h.e)
		}
	}
	addWhole(p.groups, pool, groupPK, add)
	addWhole(p.configs, pool, func(pool, _ string) string { return configPK(pool) }, add)
	addWhole(p.roleMaps, pool, func(pool, _ string) string { return roleMapPK(pool) }, add)
	for g, ms := range p.members {
		for sk, m := range ms {
			add(groupPK(pool, g), sk, m)
		}
	}
	return out
}

func addWhole[T any](coll map[string]*entity[T], pool string, pk func(pool, key string) string, add func(pk, sk string, v any)) {
	for key, e := range coll {
		if e.rec != nil {
			add(pk(pool, key), skState, e.rec)
		}
		for _, h := range e.history {
			add(pk(pool, key), h.sk, h.e)
		}
	}
}
