package idmirror

import (
	"fmt"
	"maps"
	"sort"
	"time"
)

// UserMerge is what one observation does to a user's mirrored state: every
// store (DynamoDB, in memory) applies it the same way, in one transaction.
type UserMerge struct {
	Outcome Outcome
	// Next is the new current state (Version bumped, clocks moved); the
	// store writes it only if the stored version is still Next.Version-1.
	Next UserRecord
	// History is the history item of a change (nil: Unchanged or Stale). Its
	// State is the full state as of its own instant.
	History *Entry[User]
	// Grants and Revokes are the membership intervals that open and close.
	Grants, Revokes []Membership
	// At is the observation's instant, as stored.
	At time.Time
	// Patch, when not zero, names the field groups a late observation
	// applied: every history item observed after At takes these groups from
	// Next.User (their values were older in each of them).
	Patch Fields
	// Recount, with Patch, says the late observation found no history as of
	// At: it leaves no item of its own (that would invent every field it did
	// not observe); the user's first item, patched, tells the change: its
	// changes become FirstChanges of its patched state.
	Recount bool
}

// FirstChanges are the changes of a user's first history item: every field
// it holds, from nothing.
func FirstChanges(state User) map[string]FieldChange { return DiffFields(nil, state.Fields()) }

// StateAt returns a user's state after the last change observed at or
// before t (ok false: no history then).
type StateAt func(t time.Time) (u User, ok bool, err error)

// MergeUser applies one observation to the stored state cur (nil: the mirror
// has never seen the user): each observed field group is taken if it is newer
// than that group's clock; a change yields a history item and the membership
// intervals it opens and closes. stateAt is called only for a late
// observation (one older than the newest already applied), whose history
// item must hold the state as of its own instant. Deleting a user the mirror
// never saw is ErrNotFound.
func MergeUser(cur *UserRecord, w UserWrite, stateAt StateAt) (UserMerge, error) {
	if err := w.Validate(); err != nil {
		return UserMerge{}, err
	}
	if w.Delete {
		w.Fields |= FieldExists
	}
	if cur == nil && w.Delete {
		return UserMerge{}, fmt.Errorf("tombstone user %s: %w", w.User.Sub, ErrNotFound)
	}
	if w.IfVersion != 0 && (cur == nil || cur.Version != w.IfVersion) {
		return UserMerge{Outcome: Stale}, nil
	}
	at := w.At.UTC().Round(0)
	if w.Delete && cur != nil && !at.After(cur.ObservedAt) {
		// The user was observed alive at or after this deletion's instant (a
		// clock behind, a slow run): a tombstone never overrides a newer
		// observation. The next read that finds the user gone dates it anew.
		return UserMerge{Outcome: Stale}, nil
	}
	next := UserRecord{User: User{PoolID: w.User.PoolID, Sub: w.User.Sub}, Clocks: map[string]time.Time{}}
	var before map[string]string
	if cur != nil {
		next = *cur
		next.Clocks = maps.Clone(cur.Clocks)
		if next.Clocks == nil {
			next.Clocks = map[string]time.Time{}
		}
		next.Attributes = maps.Clone(cur.Attributes)
		next.Groups = append([]string(nil), cur.Groups...)
		before = knownFields(cur.User, cur.Clocks)
	}
	var applied Fields
	for _, fg := range FieldClocks {
		if c, ok := next.Clocks[fg.Name]; w.Fields&fg.Field == 0 || (ok && !c.Before(at)) {
			continue
		}
		applied |= fg.Field
		next.Clocks[fg.Name] = at
		take(&next.User, w, fg.Field)
	}
	if applied == 0 {
		return UserMerge{Outcome: Stale}, nil
	}
	if w.User.Username != "" {
		next.Username = w.User.Username
	}
	if at.After(next.ObservedAt) {
		next.ObservedAt = at
	}
	next.Source = w.Source
	next.Version++

	m := UserMerge{Outcome: Unchanged, Next: next, At: at}
	changes := DiffFields(before, knownFields(next.User, next.Clocks))
	if len(changes) == 0 {
		return m, nil
	}
	m.Outcome = Changed
	if at.After(m.Next.ChangedAt) {
		m.Next.ChangedAt = at
	}
	late := cur != nil && at.Before(cur.ObservedAt)
	histState, histChanges := m.Next.User, changes
	if late {
		// The history item holds the state as of its own observation: the
		// state then, plus what this observation saw.
		prev, ok, err := stateAt(at)
		if err != nil {
			return UserMerge{}, err
		}
		m.Patch = applied
		if !ok {
			m.Recount = true
			return m.withMemberships(cur, w.Source, w.Actor, w.ActorGroup), nil
		}
		histState = prev
		histState.Attributes = maps.Clone(prev.Attributes)
		for _, fg := range FieldClocks {
			if applied&fg.Field != 0 {
				take(&histState, w, fg.Field)
			}
		}
		// An enabled flag no observation has told yet (no clock) is not
		// "false" then: it is unknown, as knownFields says of the present.
		prevFields, histFields := prev.Fields(), histState.Fields()
		if _, known := cur.Clocks["enabled"]; !known {
			delete(prevFields, "enabled")
			if applied&FieldEnabled == 0 {
				delete(histFields, "enabled")
			}
		}
		histChanges = DiffFields(prevFields, histFields)
	}
	m.History = &Entry[User]{Change: Change{Kind: "user", PoolID: next.PoolID, Key: next.Sub, Name: next.Username,
		At: at, Source: w.Source, SourceTime: w.SourceTime, Version: next.Version, Fields: histChanges, Note: w.Note, Actor: w.Actor}, State: histState}
	return m.withMemberships(cur, w.Source, w.Actor, w.ActorGroup), nil
}

// withMemberships opens and closes the membership intervals a change of
// m.Next makes at m.At: a tombstone is in no group.
func (m UserMerge) withMemberships(cur *UserRecord, src Source, actor Actor, actorGroup string) UserMerge {
	next := m.Next
	openBefore := map[string]time.Time{}
	if cur != nil {
		maps.Copy(openBefore, cur.Memberships)
	}
	want := map[string]bool{}
	if !next.Deleted {
		for _, g := range next.Groups {
			want[g] = true
		}
	}
	m.Next.Memberships = map[string]time.Time{}
	for _, g := range sortedKeys(openBefore) {
		grantedAt := openBefore[g]
		if want[g] {
			m.Next.Memberships[g] = grantedAt
			continue
		}
		m.Revokes = append(m.Revokes, Membership{Group: g, Sub: next.Sub, Username: next.Username, GrantedAt: grantedAt, RevokedAt: m.At, RevokedBy: src})
	}
	for _, g := range SortedUnique(next.Groups) {
		if _, ok := openBefore[g]; ok || !want[g] {
			continue
		}
		m.Next.Memberships[g] = m.At
		granter := actor
		if actorGroup != "" && g != actorGroup {
			granter = Actor{Type: ActorSync, Detail: "observed with another call's refresh, actor unknown"}
		}
		m.Grants = append(m.Grants, Membership{Group: g, Sub: next.Sub, Username: next.Username, GrantedAt: m.At, GrantedBy: src, GrantedActor: granter})
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// knownFields is u.Fields() without what no observation has told yet: a
// boolean has no "unknown", and a user first seen by the post-confirmation
// trigger (which does not see it) must not be recorded as disabled.
func knownFields(u User, clocks map[string]time.Time) map[string]string {
	f := u.Fields()
	if _, ok := clocks["enabled"]; !ok {
		delete(f, "enabled")
	}
	return f
}

// DiffUser returns what w would change in cur (nil: a user the mirror does
// not have), comparing only the field groups w observed and ignoring the
// observation clocks: the drift between a fresh read of Cognito and the mirror.
func DiffUser(cur *User, w UserWrite) map[string]FieldChange {
	if w.Delete {
		w.Fields |= FieldExists
	}
	var before map[string]string
	next := User{PoolID: w.User.PoolID, Sub: w.User.Sub}
	if cur != nil {
		before = cur.Fields()
		next = *cur
	}
	for _, fg := range FieldClocks {
		if w.Fields&fg.Field != 0 {
			take(&next, w, fg.Field)
		}
	}
	if w.User.Username != "" {
		next.Username = w.User.Username
	}
	return DiffFields(before, next.Fields())
}

// take copies one observed field group of w into u.
func take(u *User, w UserWrite, f Fields) {
	in := w.User
	switch f {
	case FieldAttributes:
		u.Attributes = maps.Clone(in.Attributes)
		delete(u.Attributes, "sub")
	case FieldStatus:
		u.Status = in.Status
	case FieldEnabled:
		u.Enabled = in.Enabled
	case FieldGroups:
		u.Groups = SortedUnique(in.Groups)
	case FieldMFA:
		u.MFA = in.MFA
	case FieldTimes:
		u.Created, u.Modified = in.Created, in.Modified
	case FieldExists:
		u.Deleted = w.Delete
	case FieldOrigin:
		u.Origin = in.Origin
	}
}

// Take copies the field groups f of src into dst (the late-observation patch
// of later history items).
func Take(dst *User, src User, f Fields) {
	w := UserWrite{User: src, Delete: src.Deleted}
	for _, fg := range FieldClocks {
		if f&fg.Field != 0 {
			take(dst, w, fg.Field)
		}
	}
}

// WholeWrite is one observation of an entity observed whole, with one clock
// (a group definition, the pool's configuration, the role map).
type WholeWrite[T any] struct {
	Kind, PoolID, Key, Name string
	State                   T
	Flatten                 func(T) map[string]string
	Delete                  bool
	At, SourceTime          time.Time
	Source                  Source
	Actor                   Actor
}

// WholeRecord is the stored state of such an entity.
type WholeRecord[T any] struct {
	State   T
	Deleted bool
	Meta
}

// WholeMerge is what one observation does to it.
type WholeMerge[T any] struct {
	Outcome Outcome
	Next    WholeRecord[T]
	History *Entry[T] // nil: no change
}

// MergeWhole applies an observation of a whole entity: taken only if newer
// than the stored one; a change yields a history item. Deleting an entity the
// mirror never saw is ErrNotFound.
func MergeWhole[T any](cur *WholeRecord[T], w WholeWrite[T]) (WholeMerge[T], error) {
	if !w.Source.Valid() || w.At.IsZero() || w.PoolID == "" {
		return WholeMerge[T]{}, fmt.Errorf("%w: %s write: need a pool, a known source and an observation time", ErrInvalid, w.Kind)
	}
	at := w.At.UTC().Round(0)
	if cur == nil && w.Delete {
		return WholeMerge[T]{}, fmt.Errorf("tombstone %s %s: %w", w.Kind, w.Key, ErrNotFound)
	}
	if cur != nil && !cur.ObservedAt.Before(at) {
		return WholeMerge[T]{Outcome: Stale}, nil
	}
	next := WholeRecord[T]{State: w.State, Deleted: w.Delete, Meta: Meta{Version: 1, ObservedAt: at, Source: w.Source}}
	var before map[string]string
	if cur != nil {
		before = w.Flatten(cur.State)
		next.Version = cur.Version + 1
		next.ChangedAt = cur.ChangedAt
		if cur.Deleted {
			before["deleted"] = "true"
		}
	}
	after := w.Flatten(w.State)
	if w.Delete {
		after["deleted"] = "true"
	}
	m := WholeMerge[T]{Outcome: Unchanged, Next: next}
	if changes := DiffFields(before, after); len(changes) > 0 {
		m.Outcome = Changed
		m.Next.ChangedAt = at
		m.History = &Entry[T]{Change: Change{Kind: w.Kind, PoolID: w.PoolID, Key: w.Key, Name: w.Name, At: at,
			Source: w.Source, SourceTime: w.SourceTime, Version: next.Version, Fields: changes, Actor: w.Actor}, State: w.State}
	}
	return m, nil
}
