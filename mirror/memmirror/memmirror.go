// Package memmirror is an in-memory mirror: the same reads and writes as
// mirror.Store, for tests and models that need no DynamoDB. It applies
// idmirror.MergeUser and idmirror.MergeWhole exactly as mirror.Store does —
// the same version-guarded optimistic writes (read, merge outside the lock,
// commit only if the version is unchanged, retry), the same
// late-observation patch of later history items, the same membership
// intervals, and the same refusal of a write whose state, history item and
// late-observation patches exceed one DynamoDB transaction (100 items) —
// and answers the same questions with the same orderings. Times are kept
// as the table keeps them: UTC, nanoseconds, no monotonic reading, and
// compared as the table's fixed-width strings where the table compares
// strings. mirror/mirrortest is the conformance suite both stores pass.
package memmirror

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror"
)

// ErrTransactionTooLarge: the write's state, history item and late
// patches of later history items would be more items than one DynamoDB
// TransactWriteItems takes (MaxTransactionItems); nothing was written. It is
// mirror.ErrTooLarge, so that errors.Is answers the same for both stores
// (until the sentinel moves to package idmirror).
var ErrTransactionTooLarge = mirror.ErrTooLarge

// MaxTransactionItems is how many items DynamoDB's TransactWriteItems takes.
const MaxTransactionItems = mirror.MaxTransactItems

// Store is an in-memory mirror of any number of pools. The zero value is not
// usable; call New. It is safe for concurrent use.
type Store struct {
	// MaxAttempts bounds the optimistic-lock retries of one write (as mirror.Store).
	MaxAttempts int

	mu    sync.RWMutex
	pools map[string]*pool

	// beforeCommit, when set (tests), runs between a write's read and its commit.
	beforeCommit func()
	observe      idmirror.ChangeObserver
}

// Observe registers fn to learn of every history item the store commits
// (as mirror.Store.Observe); nil removes it. Set it before writing.
func (s *Store) Observe(fn idmirror.ChangeObserver) { s.observe = fn }

func (s *Store) observed(m idmirror.UserMerge) {
	if s.observe == nil || (m.History == nil && len(m.Grants) == 0) {
		return
	}
	a := idmirror.Applied{Kind: "user", PoolID: m.Next.PoolID, Key: m.Next.Sub, After: m.Next.User.Fields(), Grants: m.Grants}
	if m.History != nil {
		c := m.History.Change
		a.Change, a.After = &c, m.History.State.Fields()
	}
	s.observe(a)
}

// New returns an empty store.
func New() *Store {
	return &Store{MaxAttempts: 25, pools: map[string]*pool{}}
}

// pool holds one pool's items, as the table's partitions do.
type pool struct {
	users    map[string]*userEntity // by sub
	groups   map[string]*entity[idmirror.Group]
	configs  map[string]*entity[idmirror.PoolConfig] // one key: "config"
	roleMaps map[string]*entity[idmirror.RoleMap]    // one key: "rolemap"
	// members holds the membership intervals of each group by sort key
	// (M#<grantedAt>#<sub>), as the group's item collection does.
	members map[string]map[string]*idmirror.Membership
	// journals holds each entity's journal chain, by the entity's key (journal.go).
	journals map[string][]idmirror.JournalRecord
}

type userEntity struct {
	rec     *idmirror.UserRecord
	history []*historyItem[idmirror.User] // ordered by sk
}

type entity[T any] struct {
	rec     *idmirror.WholeRecord[T]
	history []*historyItem[T] // ordered by sk
}

// historyItem is a history item with its sort keys (H#<observedAt>#<version>
// and the byDay index's <observedAt>#<pk>).
type historyItem[T any] struct {
	sk, daySK string
	e         idmirror.Entry[T]
}

func (s *Store) pool(id string, create bool) *pool {
	p := s.pools[id]
	if p == nil && create {
		p = &pool{users: map[string]*userEntity{}, groups: map[string]*entity[idmirror.Group]{},
			configs: map[string]*entity[idmirror.PoolConfig]{}, roleMaps: map[string]*entity[idmirror.RoleMap]{},
			members: map[string]map[string]*idmirror.Membership{}, journals: map[string][]idmirror.JournalRecord{}}
		s.pools[id] = p
	}
	return p
}

// The table's keys and times, kept the same so that orderings and ranges
// compare exactly as DynamoDB compares them.
const (
	timeLayout = "2006-01-02T15:04:05.000000000Z"
	skHistory  = "H#"
	skMember   = "M#"
	skHighest  = "#~"
	userShards = 16
)

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// norm is a time as the table returns it: UTC, no monotonic reading.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

func userPK(pool, sub string) string   { return "P#" + pool + "#U#" + sub }
func groupPK(pool, name string) string { return "P#" + pool + "#G#" + name }
func configPK(pool string) string      { return "P#" + pool + "#CONFIG" }
func roleMapPK(pool string) string     { return "P#" + pool + "#ROLEMAP" }
func historySK(at time.Time, version int64) string {
	return fmt.Sprintf("%s%s#%010d", skHistory, fmtTime(at), version)
}
func memberSK(grantedAt time.Time, sub string) string {
	return skMember + fmtTime(grantedAt) + "#" + sub
}

func shardOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

var errRetry = errors.New("lost a race; retry")

// retry runs attempt until it returns something other than errRetry, with
// jittered backoff, at most MaxAttempts times (as mirror.Store).
func (s *Store) retry(ctx context.Context, what string, attempt func() (idmirror.Outcome, error)) (idmirror.Outcome, error) {
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		o, err := attempt()
		if !errors.Is(err, errRetry) {
			return o, err
		}
		if i+1 >= max(s.MaxAttempts, 1) {
			return 0, fmt.Errorf("%s: %w after %d attempts", what, idmirror.ErrConflict, i+1)
		}
		d := time.Duration(1+rand.IntN(1<<min(i, 5))) * time.Millisecond
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(d):
		}
	}
}

// insertHistory adds h to hist, kept ordered by sk; false if an item with
// that sk exists (the table's attribute_not_exists(pk) condition).
func insertHistory[T any](hist []*historyItem[T], h *historyItem[T]) ([]*historyItem[T], bool) {
	i := sort.Search(len(hist), func(i int) bool { return hist[i].sk >= h.sk })
	if i < len(hist) && hist[i].sk == h.sk {
		return hist, false
	}
	hist = append(hist, nil)
	copy(hist[i+1:], hist[i:])
	hist[i] = h
	return hist, true
}

// lastAsOf returns the last history item observed at or before t (the
// table's sk BETWEEN "H#" AND "H#<t>#~", newest first, Limit 1).
func lastAsOf[T any](hist []*historyItem[T], t time.Time) *historyItem[T] {
	hi := skHistory + fmtTime(t) + skHighest
	i := sort.Search(len(hist), func(i int) bool { return hist[i].sk > hi })
	if i == 0 {
		return nil
	}
	return hist[i-1]
}

func newHistory[T any](pk string, e *idmirror.Entry[T]) *historyItem[T] {
	c := cloneEntry(*e)
	return &historyItem[T]{sk: historySK(c.At, c.Version), daySK: fmtTime(c.At) + "#" + pk, e: c}
}

func cloneEntry[T any](e idmirror.Entry[T]) idmirror.Entry[T] {
	e.Change = cloneChange(e.Change)
	e.State = clone(e.State)
	return e
}

func cloneChange(c idmirror.Change) idmirror.Change {
	c = clone(c)
	c.At, c.SourceTime = norm(c.At), norm(c.SourceTime)
	if c.Fields == nil {
		// A history item always holds its changes, if only an empty map
		// (a late observation that changed nothing as of its instant).
		c.Fields = map[string]idmirror.FieldChange{}
	}
	return c
}

func cloneMeta(m idmirror.Meta) idmirror.Meta {
	m.ObservedAt, m.ChangedAt = norm(m.ObservedAt), norm(m.ChangedAt)
	return m
}

func cloneUserRecord(r idmirror.UserRecord) idmirror.UserRecord {
	r = clone(r)
	r.Meta = cloneMeta(r.Meta)
	for k, t := range r.Memberships {
		r.Memberships[k] = norm(t)
	}
	for k, t := range r.Clocks {
		r.Clocks[k] = norm(t)
	}
	return r
}

func cloneMembership(m idmirror.Membership) idmirror.Membership {
	m.GrantedAt, m.RevokedAt = norm(m.GrantedAt), norm(m.RevokedAt)
	return m
}

// clone returns a deep copy of v that shares no map, slice or pointer with
// it — what the store keeps is never what a caller holds — with empty maps
// and slices as nil and times without their monotonic reading (as the
// table, which omits empty maps and lists, returns them). It copies by
// reflection so that a field added to a domain type is copied too.
func clone[T any](v T) T {
	c := deepCopy(reflect.ValueOf(&v).Elem())
	return c.Interface().(T)
}

var timeType = reflect.TypeFor[time.Time]()

func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Map:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return m
	case reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			s.Index(i).Set(deepCopy(v.Index(i)))
		}
		return s
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(deepCopy(v.Elem()))
		return p
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		if v.Type() == timeType {
			c.Set(reflect.ValueOf(v.Interface().(time.Time).Round(0)))
			return c
		}
		for i := range v.NumField() {
			if c.Field(i).CanSet() {
				c.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return c
	}
	return v
}
