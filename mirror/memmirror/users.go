package memmirror

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/idmirror/idmirror"
)

// PutUser applies one observation of a user (see mirror.Store.PutUser): it
// reads the user, merges with idmirror.MergeUser outside the lock, and
// commits only if the user's version is still the one it read, retrying
// otherwise. Deleting a user the mirror never saw returns ErrNotFound; a
// late observation whose patches of later history items would not fit one
// transaction returns an error wrapping ErrTransactionTooLarge and writes
// nothing.
func (s *Store) PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error) {
	if err := w.Validate(); err != nil {
		return 0, err
	}
	pool, sub := w.User.PoolID, w.User.Sub
	return s.retry(ctx, "put user "+sub, func() (idmirror.Outcome, error) {
		cur := s.readUser(pool, sub)
		m, err := idmirror.MergeUser(cur, w, func(t time.Time) (idmirror.User, bool, error) {
			e, ok := s.userAsOf(pool, sub, t)
			return e.State, ok, nil
		})
		if err != nil || m.Outcome == idmirror.Stale {
			return m.Outcome, err
		}
		if s.beforeCommit != nil {
			s.beforeCommit()
		}
		if err := s.commitUser(m); err != nil {
			return 0, err
		}
		s.observed(m)
		return m.Outcome, nil
	})
}

// readUser returns a copy of the stored user (nil: none), like the table's
// consistent GetItem.
func (s *Store) readUser(pool, sub string) *idmirror.UserRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil || p.users[sub] == nil || p.users[sub].rec == nil {
		return nil
	}
	r := cloneUserRecord(*p.users[sub].rec)
	return &r
}

func (s *Store) userAsOf(pool, sub string, t time.Time) (idmirror.Entry[idmirror.User], bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil || p.users[sub] == nil {
		return idmirror.Entry[idmirror.User]{}, false
	}
	h := lastAsOf(p.users[sub].history, t)
	if h == nil {
		return idmirror.Entry[idmirror.User]{}, false
	}
	return cloneEntry(h.e), true
}

// commitUser writes a merge as mirror.Store does: one transaction of the
// state guarded by its version, the history item (which must not exist)
// and the late-observation patch of later history items, refused whole
// (ErrTransactionTooLarge) if that is more than MaxTransactionItems items;
// and the membership intervals the write opens and closes. mirror.Store puts
// as many of these as fit in the transaction and writes the rest right
// after it, each only if still needed (a grant if absent, a revoke if still
// open); here nothing can die in between, so all of them are written under
// the same lock, those past the transaction with the same conditions.
func (s *Store) commitUser(m idmirror.UserMerge) error {
	n := m.Next
	pk := userPK(n.PoolID, n.Sub)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pool(n.PoolID, true)
	e := p.users[n.Sub]
	if e == nil {
		e = &userEntity{}
	}
	var stored int64
	if e.rec != nil {
		stored = e.rec.Version
	}
	if stored != n.Version-1 {
		return errRetry
	}
	var hist *historyItem[idmirror.User]
	items := 2 // the state and the journal record
	if m.History != nil {
		hist = newHistory(pk, m.History)
		i := sort.Search(len(e.history), func(i int) bool { return e.history[i].sk >= hist.sk })
		if i < len(e.history) && e.history[i].sk == hist.sk {
			return errRetry
		}
		items++
	}
	var patch []*historyItem[idmirror.User]
	if m.Patch != 0 {
		after := skHistory + fmtTime(m.At) + skHighest
		for _, h := range e.history {
			if h.sk >= after {
				patch = append(patch, h)
			}
		}
		items += len(patch)
	}
	if items > MaxTransactionItems {
		return fmt.Errorf("%w: user %s: the write patches %d later history items; one transaction holds %d items",
			ErrTransactionTooLarge, n.Sub, len(patch), MaxTransactionItems)
	}

	rec := cloneUserRecord(n)
	changed := m.Outcome == idmirror.Changed
	if !changed && e.rec != nil {
		rec.Memberships = cloneUserRecord(*e.rec).Memberships
	}
	e.rec = &rec
	written := []idmirror.ItemDigest{digest(pk, skState, e.rec)}
	if hist != nil {
		e.history, _ = insertHistory(e.history, hist)
		written = append(written, digest(pk, hist.sk, hist.e))
	}
	for i, h := range patch {
		idmirror.Take(&h.e.State, n.User, m.Patch)
		h.e.State = clone(h.e.State)
		if i == 0 && m.Recount {
			h.e.Fields = idmirror.FirstChanges(h.e.State)
		}
		written = append(written, digest(pk, h.sk, h.e))
	}
	// The journal records the intervals as mirror.Store writes them: those
	// in the transaction with it, those past it in settles of up to
	// MaxTransactionItems-2 each (the state and the journal record).
	var settled [][]idmirror.ItemDigest
	if changed {
		inTx := MaxTransactionItems - items
		i := 0
		record := func(group string, sk string, ok bool) {
			if i >= inTx {
				if k := (i - inTx) / (MaxTransactionItems - 2); k >= len(settled) {
					settled = append(settled, nil)
				}
			}
			if ok {
				d := digest(groupPK(n.PoolID, group), sk, p.members[group][sk])
				if i < inTx {
					written = append(written, d)
				} else {
					settled[len(settled)-1] = append(settled[len(settled)-1], d)
				}
			}
			i++
		}
		for _, r := range m.Revokes {
			record(r.Group, memberSK(r.GrantedAt, r.Sub), s.revoke(p, r, i >= inTx))
		}
		for _, g := range m.Grants {
			record(g.Group, memberSK(g.GrantedAt, g.Sub), s.grant(p, g, i >= inTx))
		}
	}
	p.appendJournal(n.PoolID, pk, n.Version, 0, written)
	for k, part := range settled {
		p.appendJournal(n.PoolID, pk, n.Version, k+1, append([]idmirror.ItemDigest{digest(pk, skState, e.rec)}, part...))
	}
	p.users[n.Sub] = e
	return nil
}

// grant opens an interval: a Put of M#<grantedAt>#<sub> under the group
// (in the transaction it replaces an item with that key; after it, only if
// there is none).
// It reports whether it wrote.
func (s *Store) grant(p *pool, g idmirror.Membership, afterTx bool) bool {
	gm := p.members[g.Group]
	if gm == nil {
		gm = map[string]*idmirror.Membership{}
		p.members[g.Group] = gm
	}
	sk := memberSK(g.GrantedAt, g.Sub)
	if afterTx && gm[sk] != nil {
		return false
	}
	m := cloneMembership(idmirror.Membership{Group: g.Group, Sub: g.Sub, Username: g.Username, GrantedAt: g.GrantedAt, GrantedBy: g.GrantedBy, GrantedActor: g.GrantedActor})
	gm[sk] = &m
	return true
}

// revoke closes an interval: an Update SET revokedAt, revokedBy of the
// interval's key. In the transaction, like the table's Update, it creates
// the item if it is missing (with only those attributes); after it, only an
// existing, still open interval is closed. It reports whether it wrote.
func (s *Store) revoke(p *pool, r idmirror.Membership, afterTx bool) bool {
	gm := p.members[r.Group]
	sk := memberSK(r.GrantedAt, r.Sub)
	if afterTx && (gm[sk] == nil || !gm[sk].RevokedAt.IsZero()) {
		return false
	}
	if gm == nil {
		gm = map[string]*idmirror.Membership{}
		p.members[r.Group] = gm
	}
	m := gm[sk]
	if m == nil {
		m = &idmirror.Membership{}
		gm[sk] = m
	}
	m.RevokedAt, m.RevokedBy = norm(r.RevokedAt), r.RevokedBy
	return true
}

// GetUser returns the current state of a user (a tombstone has Deleted set).
func (s *Store) GetUser(ctx context.Context, pool, sub string) (idmirror.UserRecord, error) {
	if err := ctx.Err(); err != nil {
		return idmirror.UserRecord{}, err
	}
	r := s.readUser(pool, sub)
	if r == nil {
		return idmirror.UserRecord{}, fmt.Errorf("user %s in %s: %w", sub, pool, idmirror.ErrNotFound)
	}
	return *r, nil
}

// FindByUsername returns the users of pool with that username: at most one
// live user, and any tombstones of earlier users that had it.
func (s *Store) FindByUsername(ctx context.Context, pool, username string) ([]idmirror.UserRecord, error) {
	return s.findUsers(ctx, pool, func(u *idmirror.User) bool { return u.Username == username })
}

// FindByEmail returns the users of pool with that email (compared without
// case, as the table's lower-cased index key).
func (s *Store) FindByEmail(ctx context.Context, pool, email string) ([]idmirror.UserRecord, error) {
	want := strings.ToLower(email)
	return s.findUsers(ctx, pool, func(u *idmirror.User) bool {
		e := u.Email()
		return e != "" && strings.ToLower(e) == want
	})
}

// findUsers returns the users of pool that match, ordered by sub.
func (s *Store) findUsers(ctx context.Context, pool string, match func(*idmirror.User) bool) ([]idmirror.UserRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil {
		return nil, nil
	}
	var out []idmirror.UserRecord
	for _, e := range p.users {
		if e.rec != nil && match(&e.rec.User) {
			out = append(out, cloneUserRecord(*e.rec))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sub < out[j].Sub })
	return out, nil
}

// UserHistory returns every change of a user, oldest first.
func (s *Store) UserHistory(ctx context.Context, pool, sub string) ([]idmirror.Entry[idmirror.User], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.pool(pool, false)
	if p == nil || p.users[sub] == nil {
		return nil, nil
	}
	return entries(p.users[sub].history), nil
}

func entries[T any](hist []*historyItem[T]) []idmirror.Entry[T] {
	var out []idmirror.Entry[T]
	for _, h := range hist {
		out = append(out, cloneEntry(h.e))
	}
	return out
}

// UserAsOf returns the user as the mirror knew it at t (a tombstone if it
// was deleted by then). ErrNotFound if the mirror had no record of it yet.
func (s *Store) UserAsOf(ctx context.Context, pool, sub string, t time.Time) (idmirror.User, error) {
	if err := ctx.Err(); err != nil {
		return idmirror.User{}, err
	}
	e, ok := s.userAsOf(pool, sub, t)
	if !ok {
		return idmirror.User{}, fmt.Errorf("user %s in %s as of %s: %w", sub, pool, fmtTime(t), idmirror.ErrNotFound)
	}
	return e.State, nil
}
