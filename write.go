package idmirror

import (
	"fmt"
	"time"
)

// Fields says which parts of a user an observation saw. A trigger sees the
// attributes and status but not groups; sync and the event handler see all.
// Each field group has its own observation clock in the mirror.
type Fields uint16

// The field groups of a user.
const (
	FieldAttributes Fields = 1 << iota // Attributes
	FieldStatus                        // Status
	FieldEnabled                       // Enabled
	FieldGroups                        // Groups
	FieldMFA                           // MFA
	FieldTimes                         // Created, Modified
	FieldExists                        // Deleted (a tombstone or its absence)
	FieldOrigin                        // Origin (set by restore)

	// AllFields is everything Cognito shows of a user.
	AllFields = FieldAttributes | FieldStatus | FieldEnabled | FieldGroups | FieldMFA | FieldTimes | FieldExists
)

// FieldGroup names one field group: the name keys its observation clock.
type FieldGroup struct {
	Field Fields
	Name  string
}

// FieldClocks lists every field group in a fixed order.
var FieldClocks = []FieldGroup{
	{FieldAttributes, "attributes"}, {FieldStatus, "status"}, {FieldEnabled, "enabled"},
	{FieldGroups, "groups"}, {FieldMFA, "mfa"}, {FieldTimes, "times"}, {FieldExists, "exists"}, {FieldOrigin, "origin"},
}

// Outcome says what a write to the mirror did.
type Outcome int

const (
	// Changed: the state changed; a history item was written.
	Changed Outcome = iota + 1
	// Unchanged: the observation was newer but changed nothing; only the
	// observation clock moved; no history item.
	Unchanged
	// Stale: every observed part was older than what is stored; nothing written.
	Stale
)

func (o Outcome) String() string {
	switch o {
	case Changed:
		return "changed"
	case Unchanged:
		return "unchanged"
	case Stale:
		return "stale"
	}
	return "unknown"
}

// UserWrite is one observation of a user.
type UserWrite struct {
	User   User   // PoolID and Sub are required
	Fields Fields // the parts of User that were observed
	// Delete records that the user is gone: a tombstone keeping the last
	// known state. It implies FieldExists.
	Delete     bool
	At         time.Time // when the source observed this state (the ordering clock)
	Source     Source
	SourceTime time.Time // Cognito's own time, if it gave one (UserLastModifiedDate, CloudTrail eventTime)
	Note       string    // free text for the history item (for example the restore's origin)
	Actor      Actor     // who made the change, as far as the source knows
	// ActorGroup, when set, is the one group whose grant Actor made (a
	// refresh of AdminAddUserToGroup): other memberships the write opens
	// were observed, not made by Actor, and get an unknown actor.
	ActorGroup string
	// IfVersion, when not 0, makes the write a read-modify-write of that
	// version of the user: if the stored version differs, it is Stale (the
	// writer reads again and recomputes).
	IfVersion int64
}

// Validate checks that the write can be applied; the error names the problem.
func (w UserWrite) Validate() error {
	switch {
	case w.User.PoolID == "":
		return fmt.Errorf("%w: user write: missing pool id", ErrInvalid)
	case w.User.Sub == "":
		return fmt.Errorf("%w: user write: missing sub", ErrInvalid)
	case !w.Source.Valid():
		return fmt.Errorf("%w: user write: unknown source %q", ErrInvalid, w.Source)
	case w.At.IsZero():
		return fmt.Errorf("%w: user write: missing observation time", ErrInvalid)
	case w.Fields == 0 && !w.Delete:
		return fmt.Errorf("%w: user write: no observed fields", ErrInvalid)
	}
	return nil
}

// GroupWrite is one observation of a group definition.
type GroupWrite struct {
	Group      Group // PoolID and Name are required
	Delete     bool  // the group is gone: a tombstone
	At         time.Time
	Source     Source
	SourceTime time.Time
	Actor      Actor
}

// Meta is the bookkeeping the mirror keeps with a current state.
type Meta struct {
	Version    int64     // bumped by every write
	ObservedAt time.Time // the newest observation applied
	Source     Source
	ChangedAt  time.Time // observation time of the last change (history item)
}

// UserRecord is a user's current state in the mirror, with its bookkeeping.
type UserRecord struct {
	User
	Meta
	// Memberships maps each group the user is in now to the time it was granted.
	Memberships map[string]time.Time
	// Clocks maps each field group's name (FieldClocks) to the time of the
	// observation its value comes from.
	Clocks map[string]time.Time
	// Pending counts membership intervals a write recorded but has not
	// written yet (past one transaction; see docs/mirror-table.md): the next
	// write of the user finishes them.
	Pending int
}

// GroupRecord is a group's current state with its bookkeeping.
type GroupRecord struct {
	Group
	Meta
}

// FieldChange is one field's value before and after a change ("" = absent).
type FieldChange struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

// Change is one history item: what changed on an entity, when, and who saw it.
type Change struct {
	Kind       string // user, group, config, rolemap
	PoolID     string
	Key        string // sub, group name, "config", "rolemap"
	Name       string // username or group name
	At         time.Time
	Source     Source
	SourceTime time.Time
	Version    int64
	Fields     map[string]FieldChange
	Note       string
	Actor      Actor
}

// Entry is a change with the full state after it.
type Entry[T any] struct {
	Change
	State T
}

// Membership is one interval of a user's membership in a group.
type Membership struct {
	Group, Sub, Username string
	GrantedAt            time.Time
	GrantedBy            Source
	GrantedActor         Actor
	RevokedAt            time.Time // zero while the membership lasts
	RevokedBy            Source
}

// ChangeQuery selects changes of one pool in a time window.
type ChangeQuery struct {
	PoolID   string
	From, To time.Time // inclusive; To zero means now
	Source   Source    // "" for every source
}

// ExportOptions tunes a mirror's export of a pool's users.
type ExportOptions struct {
	// Segments is how many shards are read in parallel (1..16; default 4).
	Segments int
	// AsOf, when set, yields each user as it was at that instant (users the
	// mirror first saw later are skipped).
	AsOf time.Time
	// PageSize is the Limit of each Query page (default: DynamoDB's 1 MB pages).
	PageSize int32
}

// DiffFields compares two flattenings (User.Fields and the like).
func DiffFields(before, after map[string]string) map[string]FieldChange {
	out := map[string]FieldChange{}
	for k, a := range after {
		if b := before[k]; b != a {
			out[k] = FieldChange{Before: b, After: a}
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			out[k] = FieldChange{Before: b}
		}
	}
	return out
}

// Whole returns the write of the group as an entity observed whole.
func (w GroupWrite) Whole() (WholeWrite[Group], error) {
	g := w.Group
	if g.Name == "" {
		return WholeWrite[Group]{}, fmt.Errorf("%w: group write: missing name", ErrInvalid)
	}
	g.Deleted = w.Delete
	return WholeWrite[Group]{Kind: "group", PoolID: g.PoolID, Key: g.Name, Name: g.Name, State: g, Flatten: Group.Fields, Actor: w.Actor,
		Delete: w.Delete, At: w.At, SourceTime: w.SourceTime, Source: w.Source}, nil
}

// PoolConfigWrite is an observation of the pool's configuration.
func PoolConfigWrite(cfg PoolConfig, at time.Time, src Source) WholeWrite[PoolConfig] {
	return WholeWrite[PoolConfig]{Kind: "config", PoolID: cfg.PoolID, Key: "config", State: cfg, Flatten: PoolConfig.Fields, At: at, Source: src}
}

// RoleMapWrite records the role map in force for a pool.
func RoleMapWrite(pool string, m RoleMap, at time.Time, src Source) (WholeWrite[RoleMap], error) {
	if err := m.Validate(); err != nil {
		return WholeWrite[RoleMap]{}, err
	}
	return WholeWrite[RoleMap]{Kind: "rolemap", PoolID: pool, Key: "rolemap", State: m, Flatten: RoleMap.Fields, At: at, Source: src}, nil
}
