package memmirror

import (
	"sort"
	"testing"
	"time"
)

// Tampering behind the store's back (the integrity conformance cases).

func EditUserHistory(t *testing.T, s *Store, pool, sub string, i int) (pk, sk string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.pools[pool].users[sub].history[i]
	h.e.Note = "edited behind the store's back"
	return userPK(pool, sub), h.sk
}

func DeleteUserHistory(t *testing.T, s *Store, pool, sub string, i int) (pk, sk string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.pools[pool].users[sub]
	sk = e.history[i].sk
	e.history = append(e.history[:i], e.history[i+1:]...)
	return userPK(pool, sub), sk
}

func EditMembership(t *testing.T, s *Store, pool, group, sub string) (pk, sk string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sks []string
	for k, m := range s.pools[pool].members[group] {
		if m.Sub == sub {
			sks = append(sks, k)
		}
	}
	if len(sks) == 0 {
		t.Fatalf("no interval of %s in %s", sub, group)
	}
	sort.Strings(sks)
	m := s.pools[pool].members[group][sks[0]]
	m.GrantedAt = m.GrantedAt.Add(-24 * time.Hour)
	return groupPK(pool, group), sks[0]
}
