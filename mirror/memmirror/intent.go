package memmirror

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror"
)

// Restore's intents (mirror.Intent), kept as mirror.Store keeps them: one
// item per target pool and username, replaced whole by each put, read
// consistently. They live beside the store's pools, keyed by the store,
// until Store has a field for them.
var intentTables sync.Map // *Store → *intentTable

type intentTable struct {
	mu    sync.Mutex
	items map[string]mirror.Intent // "P#<pool>#INTENT#<username>"
}

func (s *Store) intents() *intentTable {
	t, _ := intentTables.LoadOrStore(s, &intentTable{items: map[string]mirror.Intent{}})
	return t.(*intentTable)
}

func intentPK(pool, username string) string { return "P#" + pool + "#INTENT#" + username }

// PutIntent records (or replaces) restore's intent for a username of a pool.
func (s *Store) PutIntent(ctx context.Context, in mirror.Intent) error {
	switch {
	case in.Pool == "" || in.Username == "":
		return fmt.Errorf("%w: intent: missing pool or username", idmirror.ErrInvalid)
	case in.Origin == "":
		return fmt.Errorf("%w: intent: missing origin", idmirror.ErrInvalid)
	case in.At.IsZero():
		return fmt.Errorf("%w: intent: missing time", idmirror.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put intent %s in %s: %w", in.Username, in.Pool, err)
	}
	in.Attributes = cloneAttrs(in.Attributes)
	in.At, in.Modified, in.ResetAt, in.PasswordModified = norm(in.At), norm(in.Modified), norm(in.ResetAt), norm(in.PasswordModified)
	t := s.intents()
	t.mu.Lock()
	t.items[intentPK(in.Pool, in.Username)] = in
	t.mu.Unlock()
	return nil
}

// Intent returns restore's intent for a username of a pool (ErrNotFound if
// none was recorded).
func (s *Store) Intent(ctx context.Context, pool, username string) (mirror.Intent, error) {
	if err := ctx.Err(); err != nil {
		return mirror.Intent{}, fmt.Errorf("get intent %s in %s: %w", username, pool, err)
	}
	t := s.intents()
	t.mu.Lock()
	in, ok := t.items[intentPK(pool, username)]
	t.mu.Unlock()
	if !ok {
		return mirror.Intent{}, fmt.Errorf("intent %s in %s: %w", username, pool, idmirror.ErrNotFound)
	}
	in.Attributes = cloneAttrs(in.Attributes)
	return in, nil
}

// cloneAttrs copies attributes as the table returns them: an empty map is
// not stored (omitempty), so it reads back as nil.
func cloneAttrs(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
