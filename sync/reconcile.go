package sync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/workers"
)

// PoolReader is the part of the Cognito adapter sync reads with.
type PoolReader interface {
	Describe(ctx context.Context, poolID string) (idmirror.PoolConfig, error)
	ListGroups(ctx context.Context, poolID string) ([]idmirror.Group, error)
	GroupMembers(ctx context.Context, poolID, group string, fn func(username string) error) error
	ListUsers(ctx context.Context, poolID string, fn func(u idmirror.User, at time.Time) error) error
	GetUser(ctx context.Context, poolID, username string) (idmirror.User, error)
	GetGroup(ctx context.Context, poolID, name string) (idmirror.Group, error)
	FindBySub(ctx context.Context, poolID, sub string) (string, error)
}

// Mirror is the part of the mirror sync reads and writes.
type Mirror interface {
	GetUser(ctx context.Context, pool, sub string) (idmirror.UserRecord, error)
	PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error)
	PutGroup(ctx context.Context, w idmirror.GroupWrite) (idmirror.Outcome, error)
	GetGroup(ctx context.Context, pool, name string) (idmirror.GroupRecord, error)
	Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error)
	Members(ctx context.Context, pool, group string, at time.Time) ([]idmirror.Membership, error)
	PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error)
	PutPoolConfig(ctx context.Context, cfg idmirror.PoolConfig, at time.Time, src idmirror.Source) (idmirror.Outcome, error)
	PutRoleMap(ctx context.Context, pool string, m idmirror.RoleMap, at time.Time, src idmirror.Source) (idmirror.Outcome, error)
	ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error
	ExplainChange(ctx context.Context, e idmirror.Explanation) (bool, error)
}

// Options tunes a reconcile.
type Options struct {
	// Repair writes the drift to the mirror; without it Run only reports.
	Repair bool
	// Deep reads each user with AdminGetUser (at UserRead pace) to mirror
	// MFA preferences, which ListUsers does not return.
	Deep bool
	// MaxTombstoneShare and MaxTombstones are the safety valve: a run that
	// would tombstone more than this share of the mirrored users (0 < share
	// <= 1; default 0.2) and more than this many of them (default 10) looks
	// like an emptied pool and is refused. Both must be exceeded, so a small
	// pool losing a user or two is not refused forever.
	MaxTombstoneShare float64
	MaxTombstones     int
	// AllowMassTombstones lifts that safety valve.
	AllowMassTombstones bool
	// RoleMap, when set, is recorded in the mirror (versioned) by a repair.
	RoleMap *idmirror.RoleMap
	// Concurrency of the mirror reads and writes (default 8).
	Concurrency int
}

// Validate checks the options; the error names the bad value.
func (o Options) Validate() error {
	if s := o.MaxTombstoneShare; math.IsNaN(s) || math.IsInf(s, 0) || s < 0 || s > 1 {
		return fmt.Errorf("%w: max tombstone share %v: want a number from 0 to 1 (0: the default, 0.2)", idmirror.ErrInvalid, s)
	}
	if o.MaxTombstones < 0 {
		return fmt.Errorf("%w: max tombstones %d: want 0 (the default, 10) or more", idmirror.ErrInvalid, o.MaxTombstones)
	}
	return nil
}

// Drift kinds.
const (
	UserMissing   = "user-missing"   // in the pool, not in the mirror
	UserChanged   = "user-changed"   // different in the pool
	UserGone      = "user-gone"      // in the mirror, no longer in the pool: a tombstone
	GroupMissing  = "group-missing"  //
	GroupChanged  = "group-changed"  //
	GroupGone     = "group-gone"     //
	ConfigChanged = "config-changed" // the pool's configuration
)

// Drift is one difference between the pool and the mirror.
type Drift struct {
	Kind   string                          `json:"kind"`
	Key    string                          `json:"key"`            // sub, group name or "config"
	Name   string                          `json:"name,omitempty"` // username
	Fields map[string]idmirror.FieldChange `json:"fields,omitempty"`
}

// Report is what a run found and did.
type Report struct {
	PoolID      string    `json:"pool_id"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	Users       int       `json:"users"`       // in the pool
	Groups      int       `json:"groups"`      // in the pool
	Memberships int       `json:"memberships"` // in the pool
	Mirrored    int       `json:"mirrored"`    // live users in the mirror before the run
	Drift       []Drift   `json:"drift"`
	Repaired    int       `json:"repaired"`          // drift items written
	Refused     string    `json:"refused,omitempty"` // what the safety valve held back, and why
	Failed      []Failure `json:"failed,omitempty"`  // users that could not be read or written; the others were done
	Calls       int64     `json:"cognito_calls"`
	Throttled   int64     `json:"cognito_throttled"`
}

// Failure is a user a run could not reconcile.
type Failure struct {
	Sub      string `json:"sub"`
	Username string `json:"username,omitempty"`
	Error    string `json:"error"`
}

// InSync reports whether the run found no drift.
func (r Report) InSync() bool { return len(r.Drift) == 0 }

// ErrMassTombstones: the run would tombstone more than the safety valve allows.
var ErrMassTombstones = errors.New("refusing to tombstone that many users")

// ErrUserFailures: some users could not be reconciled (Report.Failed); every
// other user was, and the run went on to the end.
var ErrUserFailures = errors.New("some users could not be reconciled")

// Reconciler compares one pool with the mirror.
type Reconciler struct {
	pool  PoolReader
	store Mirror
	log   *zap.Logger
	stats func() (calls, throttled int64)
	opt   Options
	now   func() time.Time
}

// NewReconciler returns a reconciler. stats, if set, reports the Cognito
// calls made (the pacer's Stats) for the report.
func NewReconciler(pool PoolReader, store Mirror, log *zap.Logger, stats func() (int64, int64), o Options) *Reconciler {
	if log == nil {
		log = zap.NewNop()
	}
	if o.MaxTombstoneShare == 0 {
		o.MaxTombstoneShare = 0.2
	}
	if o.MaxTombstones == 0 {
		o.MaxTombstones = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	return &Reconciler{pool: pool, store: store, log: log, stats: stats, opt: o, now: time.Now}
}

// syncFields are what ListUsers plus the group listings show of a user.
const listFields = idmirror.FieldAttributes | idmirror.FieldStatus | idmirror.FieldEnabled | idmirror.FieldTimes | idmirror.FieldExists

// Run reconciles the pool. A pool that is gone returns ErrPoolNotFound and
// tombstones nothing. With Repair, drift is written as it is found; a second
// run after a repair finds none.
func (r *Reconciler) Run(ctx context.Context, poolID string) (*Report, error) {
	rep := &Report{PoolID: poolID, StartedAt: r.now(), Drift: []Drift{}}
	calls := cognito.Since(r.stats)
	defer func() {
		rep.FinishedAt = r.now()
		rep.Calls, rep.Throttled = calls()
		sort.SliceStable(rep.Drift, func(i, j int) bool {
			if rep.Drift[i].Kind != rep.Drift[j].Kind {
				return rep.Drift[i].Kind < rep.Drift[j].Kind
			}
			return rep.Drift[i].Key < rep.Drift[j].Key
		})
	}()

	if err := r.opt.Validate(); err != nil {
		return rep, err
	}
	if err := r.config(ctx, poolID, rep); err != nil {
		return rep, err
	}
	groups, err := r.groups(ctx, poolID, rep)
	if err != nil {
		return rep, err
	}
	if r.opt.Repair && r.opt.RoleMap != nil {
		if _, err := r.store.PutRoleMap(ctx, poolID, *r.opt.RoleMap, r.now(), idmirror.SourceSync); err != nil {
			return rep, fmt.Errorf("record the role map: %w", err)
		}
	}
	seen, err := r.users(ctx, poolID, groups, rep)
	if err != nil {
		return rep, err
	}
	if err := r.gone(ctx, poolID, seen, rep); err != nil {
		return rep, err
	}
	if len(rep.Failed) > 0 {
		sort.Slice(rep.Failed, func(i, j int) bool { return rep.Failed[i].Sub < rep.Failed[j].Sub })
		return rep, fmt.Errorf("%w: %d of %d users (see the report)", ErrUserFailures, len(rep.Failed), rep.Users)
	}
	return rep, nil
}

// fail records a user the run could not reconcile, unless the error is one
// that stops the whole run (the pool is gone, the run was cancelled).
func (r *Reconciler) fail(ctx context.Context, mu *gosync.Mutex, rep *Report, sub, username string, err error) error {
	if ctx.Err() != nil || errors.Is(err, idmirror.ErrPoolNotFound) {
		return err
	}
	r.log.Warn("user not reconciled", zap.String("user_pool_id", rep.PoolID), zap.String("sub", sub), zap.Error(err))
	mu.Lock()
	rep.Failed = append(rep.Failed, Failure{Sub: sub, Username: username, Error: err.Error()})
	mu.Unlock()
	return nil
}

func (r *Reconciler) config(ctx context.Context, poolID string, rep *Report) error {
	at := r.now()
	cfg, err := r.pool.Describe(ctx, poolID)
	if err != nil {
		return fmt.Errorf("describe pool %s: %w", poolID, err)
	}
	cur, _, err := r.store.PoolConfig(ctx, poolID)
	if err != nil && !errors.Is(err, idmirror.ErrNotFound) {
		return err
	}
	if changes := diff(cur.Fields(), cfg.Fields(), err != nil); len(changes) > 0 {
		rep.Drift = append(rep.Drift, Drift{Kind: ConfigChanged, Key: "config", Fields: changes})
		if r.opt.Repair {
			if _, err := r.store.PutPoolConfig(ctx, cfg, at, idmirror.SourceSync); err != nil {
				return err
			}
			rep.Repaired++
		}
	}
	return nil
}

// diff compares flattened states; missing means the mirror had nothing.
func diff(before, after map[string]string, missing bool) map[string]idmirror.FieldChange {
	if missing {
		before = nil
	}
	out := map[string]idmirror.FieldChange{}
	for k, a := range after {
		if b := before[k]; b != a {
			out[k] = idmirror.FieldChange{Before: b, After: a}
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			out[k] = idmirror.FieldChange{Before: b}
		}
	}
	return out
}

// groups reconciles the group definitions and returns the pool's groups.
func (r *Reconciler) groups(ctx context.Context, poolID string, rep *Report) ([]idmirror.Group, error) {
	at := r.now()
	groups, err := r.pool.ListGroups(ctx, poolID)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	rep.Groups = len(groups)
	mirrored, err := r.store.Groups(ctx, poolID)
	if err != nil {
		return nil, err
	}
	known := map[string]idmirror.GroupRecord{}
	for _, g := range mirrored {
		known[g.Name] = g
	}
	inPool := map[string]bool{}
	for _, g := range groups {
		inPool[g.Name] = true
		cur, ok := known[g.Name]
		kind := GroupChanged
		if !ok || cur.Deleted {
			kind = GroupMissing
		}
		changes := diff(cur.Group.Fields(), g.Fields(), !ok)
		if len(changes) == 0 {
			continue
		}
		rep.Drift = append(rep.Drift, Drift{Kind: kind, Key: g.Name, Fields: changes})
		if r.opt.Repair {
			if _, err := r.store.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at, Source: idmirror.SourceSync, Actor: idmirror.SyncActor()}); err != nil {
				return nil, err
			}
			rep.Repaired++
		}
	}
	for _, g := range mirrored {
		if g.Deleted || inPool[g.Name] {
			continue
		}
		rep.Drift = append(rep.Drift, Drift{Kind: GroupGone, Key: g.Name, Fields: map[string]idmirror.FieldChange{"deleted": {After: "true"}}})
		if r.opt.Repair {
			if _, err := r.store.PutGroup(ctx, idmirror.GroupWrite{Group: g.Group, Delete: true, At: at, Source: idmirror.SourceSync, Actor: idmirror.SyncActor()}); err != nil {
				return nil, err
			}
			rep.Repaired++
		}
	}
	return groups, nil
}

// users walks the pool's users page by page, compares each with the mirror
// and repairs; it returns the subs it saw.
func (r *Reconciler) users(ctx context.Context, poolID string, groups []idmirror.Group, rep *Report) (map[string]bool, error) {
	membersAt := r.now()
	member := map[string][]string{} // username → groups
	for _, g := range groups {
		err := r.pool.GroupMembers(ctx, poolID, g.Name, func(username string) error {
			member[username] = append(member[username], g.Name)
			rep.Memberships++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list members of %s: %w", g.Name, err)
		}
	}

	seen := map[string]bool{}
	var mu gosync.Mutex
	type listed struct {
		u      idmirror.User
		pageAt time.Time
	}
	err := workers.Run(ctx, r.opt.Concurrency, func(ctx context.Context, emit func(listed) error) error {
		err := r.pool.ListUsers(ctx, poolID, func(u idmirror.User, pageAt time.Time) error {
			if u.Sub == "" {
				return nil
			}
			seen[u.Sub] = true
			rep.Users++
			u.Groups = member[u.Username]
			return emit(listed{u, pageAt})
		})
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		return nil
	}, func(ctx context.Context, l listed) error {
		d, n, err := r.user(ctx, l.u, l.pageAt, membersAt)
		if err != nil {
			return r.fail(ctx, &mu, rep, l.u.Sub, l.u.Username, err)
		}
		if d != nil {
			mu.Lock()
			rep.Drift = append(rep.Drift, *d)
			rep.Repaired += n
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return seen, nil
}

// user compares one user with the mirror and repairs it: the listed fields
// at the time their page was read, the groups at the time the group
// listings began (the older of the two reads), or everything at the time of
// an AdminGetUser with Deep.
func (r *Reconciler) user(ctx context.Context, u idmirror.User, pageAt, membersAt time.Time) (*Drift, int, error) {
	writes := listedWrites(u, pageAt, membersAt)
	if r.opt.Deep {
		at := r.now()
		full, err := r.pool.GetUser(ctx, u.PoolID, u.Username)
		if errors.Is(err, idmirror.ErrNotFound) {
			return nil, 0, nil // deleted since the listing: the next run tombstones it
		}
		if err != nil {
			return nil, 0, err
		}
		full.Sub = u.Sub
		writes = []idmirror.UserWrite{{User: full, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync, SourceTime: full.Modified, Actor: idmirror.SyncActor()}}
	}
	rec, err := r.store.GetUser(ctx, u.PoolID, u.Sub)
	var cur *idmirror.User
	switch {
	case errors.Is(err, idmirror.ErrNotFound):
	case err != nil:
		return nil, 0, err
	default:
		cur = &rec.User
	}
	d := diffUser(cur, writes)
	if d == nil && rec.Pending > 0 && r.opt.Repair {
		// In sync, but a writer died before it finished the user's membership
		// intervals: writing again (changing nothing) finishes them.
		for _, w := range writes {
			if _, err := r.store.PutUser(ctx, w); err != nil {
				return nil, 0, err
			}
		}
		return nil, 0, nil
	}
	if d == nil || !r.opt.Repair {
		return d, 0, nil
	}
	for _, w := range writes {
		if _, err := r.store.PutUser(ctx, w); err != nil {
			return nil, 0, err
		}
	}
	return d, 1, nil
}

// listedWrites are the observations a reconcile makes of a listed user.
func listedWrites(u idmirror.User, pageAt, membersAt time.Time) []idmirror.UserWrite {
	return []idmirror.UserWrite{
		{User: u, Fields: listFields, At: pageAt, Source: idmirror.SourceSync, SourceTime: u.Modified, Actor: idmirror.SyncActor()},
		{User: u, Fields: idmirror.FieldGroups, At: membersAt, Source: idmirror.SourceSync, Actor: idmirror.SyncActor()},
	}
}

// diffUser compares a pool user's observations with the mirrored user (nil:
// the mirror does not have it): the drift the writes repair, nil when in sync.
func diffUser(cur *idmirror.User, writes []idmirror.UserWrite) *Drift {
	changes := map[string]idmirror.FieldChange{}
	for _, w := range writes {
		for k, v := range idmirror.DiffUser(cur, w) {
			changes[k] = v
		}
	}
	if len(changes) == 0 {
		return nil
	}
	u := writes[0].User
	kind := UserChanged
	if cur == nil {
		kind = UserMissing
	}
	return &Drift{Kind: kind, Key: u.Sub, Name: u.Username, Fields: changes}
}

// gone tombstones mirrored users the pool no longer has, unless that many
// look like an accident. Each candidate (missed by the listing) is read again
// by sub first: a user confirmed during the run exists and is not gone; one
// that is gone is tombstoned at the time of that read, never earlier.
func (r *Reconciler) gone(ctx context.Context, poolID string, seen map[string]bool, rep *Report) error {
	var mu gosync.Mutex
	var missing, unsettled []idmirror.UserRecord
	err := r.store.ExportUsers(ctx, poolID, idmirror.ExportOptions{Segments: 4}, func(rec idmirror.UserRecord) error {
		if rec.Deleted {
			if rec.Pending > 0 {
				mu.Lock()
				unsettled = append(unsettled, rec)
				mu.Unlock()
			}
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		rep.Mirrored++
		if !seen[rec.Sub] {
			missing = append(missing, rec)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r.opt.Repair {
		// Tombstones whose membership intervals a dead writer left pending:
		// writing the tombstone again (it changes nothing) finishes them.
		for _, rec := range unsettled {
			if _, err := r.store.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: poolID, Sub: rec.Sub}, Delete: true, At: r.now(), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()}); err != nil {
				if err := r.fail(ctx, &mu, rep, rec.Sub, rec.Username, fmt.Errorf("finish pending memberships: %w", err)); err != nil {
					return err
				}
			}
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i].Sub < missing[j].Sub })
	gone := func(rec idmirror.UserRecord) {
		rep.Drift = append(rep.Drift, Drift{Kind: UserGone, Key: rec.Sub, Name: rec.Username, Fields: map[string]idmirror.FieldChange{"deleted": {After: "true"}}})
	}
	// The valve looks at the candidates: re-reading a whole emptied pool one
	// user at a time would take long, and refusing tombstones nothing.
	share := float64(len(missing)) / float64(max(rep.Mirrored, 1))
	if len(missing) > 0 && !r.opt.AllowMassTombstones &&
		(rep.Users == 0 || (share > r.opt.MaxTombstoneShare && len(missing) > r.opt.MaxTombstones)) {
		for _, rec := range missing {
			gone(rec)
		}
		if !r.opt.Repair {
			return nil
		}
		rep.Refused = fmt.Sprintf("%d of %d mirrored users are gone from the pool (%.0f%%; limits: more than %.0f%% and more than %d); the pool looks emptied, so none was tombstoned",
			len(missing), rep.Mirrored, 100*share, 100*r.opt.MaxTombstoneShare, r.opt.MaxTombstones)
		r.log.Warn("sync safety valve", zap.String("user_pool_id", poolID), zap.Int("gone", len(missing)), zap.Int("mirrored", rep.Mirrored))
		return fmt.Errorf("%w: %s", ErrMassTombstones, rep.Refused)
	}
	for _, rec := range missing {
		at := r.now()
		err := r.stillThere(ctx, poolID, rec)
		switch {
		case err == nil:
			continue // there after all: listed before it existed, or confirmed during the run
		case !errors.Is(err, idmirror.ErrNotFound):
			if err := r.fail(ctx, &mu, rep, rec.Sub, rec.Username, fmt.Errorf("read again before tombstoning: %w", err)); err != nil {
				return err
			}
			continue
		}
		gone(rec)
		if !r.opt.Repair {
			continue
		}
		o, err := r.store.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: poolID, Sub: rec.Sub}, Delete: true, At: at, Source: idmirror.SourceSync, Actor: idmirror.SyncActor()})
		if err != nil {
			if err := r.fail(ctx, &mu, rep, rec.Sub, rec.Username, fmt.Errorf("tombstone: %w", err)); err != nil {
				return err
			}
			continue
		}
		if o == idmirror.Changed {
			rep.Repaired++
		}
	}
	return nil
}

// stillThere reads a mirrored user again before it is tombstoned, with
// AdminGetUser by its mirrored username: ListUsers (and its sub filter) is
// eventually consistent, AdminGetUser is what AWS says to use to check that
// a user exists (API reference, ListUsers). ErrNotFound when the pool has no
// user of that name, or one with another sub (the name was reused).
func (r *Reconciler) stillThere(ctx context.Context, poolID string, rec idmirror.UserRecord) error {
	return confirmUser(ctx, r.pool, poolID, rec)
}

// confirmUser is stillThere for any reader.
func confirmUser(ctx context.Context, pool PoolReader, poolID string, rec idmirror.UserRecord) error {
	if rec.Username == "" {
		_, err := pool.FindBySub(ctx, poolID, rec.Sub)
		return err
	}
	u, err := pool.GetUser(ctx, poolID, rec.Username)
	if err != nil {
		return err
	}
	if u.Sub != "" && u.Sub != rec.Sub {
		return fmt.Errorf("user %s now has sub %s, not %s: %w", rec.Username, u.Sub, rec.Sub, idmirror.ErrNotFound)
	}
	return nil
}

// SetClock replaces the clock that stamps the reconcile's observations (tests).
func (r *Reconciler) SetClock(now func() time.Time) { r.now = now }
