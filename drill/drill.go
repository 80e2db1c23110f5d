// Package drill proves a restore before the incident: it creates a scratch
// user pool from the mirrored configuration, restores the mirrored pool into
// it (password mode suppress: no message is ever sent), verifies it field by
// field, deletes it, and reports the measured RTO (the wall time and each
// phase's share) and an RPO estimate (how far the mirror lags the pool).
//
// A drill never writes to the source pool (it only lists its users, for the
// RPO estimate) and writes nothing to the mirror: it copies the mirror's
// snapshot into an in-memory mirror (memmirror) and restores from that, so
// restore's origin links, intents and history land in memory and go to the
// report only. It raises one security event, "drill ran", and nothing else.
//
// Scratch pools carry the tag TagKey=TagValue and the name prefix NamePrefix.
// A drill deletes its own pool after a failure or an interrupt (with a
// context of its own), and at its start deletes every tagged pool created
// before it from the same source pool: an interrupted drill leaves nothing
// after the next run.
package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror/memmirror"
	"github.com/idmirror/idmirror/restore"
	"github.com/idmirror/idmirror/security"
	"github.com/idmirror/idmirror/verify"
)

// The drill's mark on its scratch pools. The tag is what the scheduled
// drill's IAM role may create and delete pools with (aws:RequestTag,
// aws:ResourceTag); the prefix lets the clean-up list only candidates.
const (
	TagKey       = "idmirror:drill"
	TagValue     = "true"
	SourceTagKey = "idmirror:drill-source"
	NamePrefix   = "idmirror-drill-"
	// LeaseTagKey holds the time (RFC 3339) until which a running drill
	// owns its scratch pool: another drill of the same source leaves it
	// alone until then; a pool without it, or past it, is a leftover.
	LeaseTagKey = "idmirror:drill-lease-until"
	// DefaultLease is how long a drill owns its scratch pool unless
	// Options.Lease says otherwise: longer than any drill runs (the Lambda's
	// is 15 minutes; the CLI's of a large pool, an hour or two).
	DefaultLease  = 3 * time.Hour
	deleteTimeout = 2 * time.Minute
)

// LambdaSample is the largest pool a full drill fits in Lambda's 900 s at
// half of AWS's default rates, with a margin; the scheduled drill (cmd/drill)
// samples this many users of a larger pool. Restore is bound by UserUpdate
// (memberships + disabled users, 25/s × 0.5 = 12.5/s) and UserCreation
// (50/s × 0.5 = 25/s), the deep verify by AdminListGroupsForUser
// (UserResourceRead, 25/s): with up to one membership or disable per user,
// about 0.08 s + 0.04 s a user. Times 1.2 (the pacer's margin; the
// runbook measured 1.14 × the bound) over the 840 s left after a minute for
// the pool's creation, the clean-up and the RPO listing: 5,800 users; the
// default is rounded down to 5,000. docs/runbook-restore.md, "Drills".
const LambdaSample = 5000

// Pools is the Cognito adapter a drill works with (*cognito.Pool, or
// mempool.Service in tests).
type Pools interface {
	restore.Target
	verify.Target
	CreateUserPool(ctx context.Context, spec cognito.NewPoolSpec) (string, []string, error)
	DeleteUserPool(ctx context.Context, poolID string) error
	ListUserPools(ctx context.Context, prefix string) ([]cognito.PoolInfo, error)
}

// Mirror is what a drill reads of the mirror: it never writes to it.
type Mirror interface {
	PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error)
	Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error)
	GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error)
	ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error
}

// Options says what to drill.
type Options struct {
	SourcePool string
	// Lease is how long this drill owns its scratch pool (default
	// DefaultLease): a drill of the same source that starts meanwhile does
	// not take it for a leftover; after it, a killed drill's pool is one.
	Lease time.Duration
	// Sample drills a uniform random sample of this many live users (0:
	// every user). Each sampled user keeps all its memberships; every group
	// definition is restored, with or without sampled members.
	Sample int
	// Keep leaves the scratch pool in place (its id is in the report).
	Keep bool
	// Deep verifies the SMS MFA preferences too (AdminGetUser per user).
	Deep bool
	// Concurrency of restore (default 16).
	Concurrency int
	// Seed makes the sample reproducible (0: random).
	Seed uint64
	// BeforeVerify, if set, runs on the scratch pool between restore and
	// verify: a test seam to break the restore on purpose.
	BeforeVerify func(ctx context.Context, scratchPool string) error
	// OnUser receives each restored user's result (from several goroutines).
	OnUser func(restore.UserResult)
}

// Phase is one step of a drill and its share of the wall time.
type Phase struct {
	Name  string        `json:"name"`
	Took  time.Duration `json:"took_ns"`
	Share float64       `json:"share"`
}

// Report is what a drill did and found.
type Report struct {
	SourcePool  string    `json:"source_pool"`
	ScratchPool string    `json:"scratch_pool,omitempty"`
	Kept        bool      `json:"kept,omitempty"`
	AsOf        time.Time `json:"as_of"`
	// MirroredUsers counts the live users the mirror held; Sampled the
	// users drilled (all of them without a sample).
	MirroredUsers int `json:"mirrored_users"`
	Sampled       int `json:"sampled_users"`
	Groups        int `json:"groups"`
	// UsersRestored and MembershipsRestored are what the scratch pool holds
	// once restored, as verify found it.
	UsersRestored       int                  `json:"users_restored"`
	MembershipsRestored int                  `json:"memberships_restored"`
	Differences         int                  `json:"differences"`
	Restore             *restore.Report      `json:"restore,omitempty"`
	Verify              *verify.Report       `json:"verify,omitempty"`
	Users               []restore.UserResult `json:"users,omitempty"` // restore's per-user results (the origin links: old sub → new sub)
	// WallTime is the whole drill; RTO the part an incident would take
	// (create the pool, restore, verify) at this pool's size and the
	// account's quotas.
	WallTime time.Duration `json:"wall_time_ns"`
	RTO      time.Duration `json:"rto_ns"`
	Phases   []Phase       `json:"phases"`
	RPO      RPO           `json:"rpo"`
	// Cleaned lists the leftover scratch pools deleted at the start.
	Cleaned      []string  `json:"cleaned,omitempty"`
	NotRecreated []string  `json:"not_recreated,omitempty"`
	Error        string    `json:"error,omitempty"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
}

// RPO estimates how much would be lost if the pool died now: the pool's
// changes the mirror does not hold yet. A pool user whose
// UserLastModifiedDate is later than the mirror's record of it (its
// mirrored modification date and its last observation) is an unmirrored
// change; Estimate is the age of the oldest one (0: the mirror is current).
// Group memberships do not move UserLastModifiedDate: a membership change
// not yet mirrored is not seen here.
type RPO struct {
	MirrorNewestChange time.Time     `json:"mirror_newest_change"`
	PoolNewestChange   time.Time     `json:"pool_newest_change"`
	Lag                time.Duration `json:"lag_ns"` // pool's newest change − mirror's newest, at least 0
	UnmirroredUsers    int           `json:"unmirrored_users"`
	Estimate           time.Duration `json:"estimate_ns"`
}

// Failure kinds: a drill that ran but found the restore wanting.
var (
	// ErrDifferences: the scratch pool is not what the mirror promised.
	ErrDifferences = errors.New("the restored scratch pool differs from the mirror")
	// ErrRestoreFailures: some users could not be restored.
	ErrRestoreFailures = errors.New("some users could not be restored")
)

// Driller runs drills.
type Driller struct {
	store  Mirror
	pools  Pools
	stats  func() (int64, int64)
	events *security.Emitter
	log    *zap.Logger
	now    func() time.Time
}

// New returns a driller. stats, if set, reports the Cognito calls; events
// (nil: none) receives the one "drill ran" event.
func New(store Mirror, pools Pools, stats func() (int64, int64), events *security.Emitter, log *zap.Logger) *Driller {
	if log == nil {
		log = zap.NewNop()
	}
	return &Driller{store: store, pools: pools, stats: stats, events: events, log: log, now: time.Now}
}

var unsafeName = regexp.MustCompile(`[^\w+=,.@-]`)

// Run drills the source pool. It returns the report with ErrDifferences or
// ErrRestoreFailures when the drill ran and the restore fell short, or
// another error when it could not run; the scratch pool is deleted in every
// case (unless Keep).
func (d *Driller) Run(ctx context.Context, opt Options) (rep *Report, err error) {
	if opt.SourcePool == "" {
		return nil, fmt.Errorf("%w: drill needs a source pool", idmirror.ErrInvalid)
	}
	if opt.Sample < 0 {
		return nil, fmt.Errorf("%w: sample %d: want 0 (every user) or more", idmirror.ErrInvalid, opt.Sample)
	}
	start := d.now()
	rep = &Report{SourcePool: opt.SourcePool, StartedAt: start, Phases: []Phase{}}
	phase := func(name string, began time.Time) {
		rep.Phases = append(rep.Phases, Phase{Name: name, Took: d.now().Sub(began)})
	}
	defer func() {
		rep.FinishedAt = d.now()
		rep.WallTime = rep.FinishedAt.Sub(start)
		for i := range rep.Phases {
			if rep.WallTime > 0 {
				rep.Phases[i].Share = float64(rep.Phases[i].Took) / float64(rep.WallTime)
			}
		}
		if err != nil {
			rep.Error = err.Error()
		}
		d.events.Emit(security.Event{Kind: security.DrillRan, PoolID: opt.SourcePool, Source: "drill", Count: rep.UsersRestored,
			Detail: fmt.Sprintf("ok=%t differences=%d sampled=%d rto_s=%.0f", err == nil, rep.Differences, rep.Sampled, rep.RTO.Seconds()), At: rep.FinishedAt})
	}()

	// Leftovers of interrupted drills.
	t := d.now()
	if err := d.cleanLeftovers(ctx, opt.SourcePool, start, rep); err != nil {
		return rep, err
	}
	phase("clean-leftovers", t)

	// The mirror's snapshot, into memory.
	t = d.now()
	mem, cfg, seen, err := d.snapshot(ctx, opt, rep)
	if err != nil {
		return rep, err
	}
	phase("snapshot", t)

	// The scratch pool.
	t = d.now()
	lease := opt.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	name := NamePrefix + unsafeName.ReplaceAllString(opt.SourcePool, "-") + "-" + start.UTC().Format("20060102T150405Z")
	scratch, notes, err := d.pools.CreateUserPool(ctx, cognito.NewPoolSpec{Name: name, Config: cfg, Scratch: true,
		Tags: map[string]string{TagKey: TagValue, SourceTagKey: opt.SourcePool, LeaseTagKey: start.Add(lease).UTC().Format(time.RFC3339)}})
	rep.NotRecreated = append(notes, cognito.NotRecreated...)
	if err != nil {
		return rep, fmt.Errorf("create the scratch pool: %w", err)
	}
	rep.ScratchPool = scratch
	phase("create-pool", t)
	if opt.Keep {
		rep.Kept = true
	} else {
		defer func() {
			// Its own context: an interrupted or failed drill cleans up too.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
			defer cancel()
			t := d.now()
			if derr := d.pools.DeleteUserPool(dctx, scratch); derr != nil && !errors.Is(derr, idmirror.ErrPoolNotFound) {
				d.log.Error("drill: could not delete the scratch pool; the next drill deletes it", zap.String("scratch_pool", scratch), zap.Error(derr))
				err = errors.Join(err, fmt.Errorf("delete the scratch pool %s (the next drill deletes it): %w", scratch, derr))
				return
			}
			phase("delete-pool", t)
		}()
	}

	// Restore, into memory's links and history.
	t = d.now()
	var mu gosync.Mutex
	ropt := restore.Options{SourcePool: opt.SourcePool, TargetPool: scratch, PasswordMode: restore.Suppress, Concurrency: opt.Concurrency,
		OnUser: func(res restore.UserResult) {
			mu.Lock()
			rep.Users = append(rep.Users, res)
			mu.Unlock()
			if opt.OnUser != nil {
				opt.OnUser(res)
			}
		}}
	rrep, err := restore.New(mem, d.pools, d.stats, d.log).Run(ctx, ropt)
	rep.Restore = rrep
	if err != nil {
		return rep, fmt.Errorf("restore into the scratch pool: %w", err)
	}
	phase("restore", t)
	restoreTook := rep.Phases[len(rep.Phases)-1].Took
	createTook := rep.Phases[len(rep.Phases)-2].Took

	if opt.BeforeVerify != nil {
		if err := opt.BeforeVerify(ctx, scratch); err != nil {
			return rep, fmt.Errorf("before verify: %w", err)
		}
	}

	t = d.now()
	vrep, err := verify.New(mem, d.pools, d.stats, d.log).Run(ctx, verify.Options{SourcePool: opt.SourcePool, TargetPool: scratch, ByName: true, Deep: opt.Deep})
	rep.Verify = vrep
	if err != nil {
		return rep, fmt.Errorf("verify the scratch pool: %w", err)
	}
	phase("verify", t)
	rep.RTO = createTook + restoreTook + rep.Phases[len(rep.Phases)-1].Took
	rep.UsersRestored, rep.Differences = vrep.Matched, len(vrep.Differences)
	rep.MembershipsRestored = vrep.Memberships
	for _, df := range vrep.Differences {
		if df.Kind == verify.MissingMembership {
			rep.MembershipsRestored--
		}
	}

	// RPO: the pool's changes the mirror does not hold yet.
	t = d.now()
	if err := d.rpo(ctx, opt.SourcePool, seen, rep); err != nil {
		return rep, err
	}
	phase("rpo", t)

	switch bad := rrep.Counts[restore.Failed] + rrep.Counts[restore.Conflict]; {
	case rep.Differences > 0:
		return rep, fmt.Errorf("%w: %d differences (first: %s)", ErrDifferences, rep.Differences, vrep.Differences[0])
	case bad > 0:
		return rep, fmt.Errorf("%w: %d", ErrRestoreFailures, bad)
	}
	return rep, nil
}

// cleanLeftovers deletes the scratch pools of earlier drills of the same
// source pool: the prefix, the drill tag and the source tag, created before
// this drill began and past their lease (a drill of the same source may be
// running; a drill of another pool, perhaps another stack's, is never
// touched). Never the source pool.
func (d *Driller) cleanLeftovers(ctx context.Context, source string, start time.Time, rep *Report) error {
	pools, err := d.pools.ListUserPools(ctx, NamePrefix)
	if err != nil {
		return fmt.Errorf("list leftover scratch pools: %w", err)
	}
	for _, p := range pools {
		if p.Tags[TagKey] != TagValue || p.Tags[SourceTagKey] != source || p.ID == source || p.Created.After(start) {
			continue
		}
		if until, err := time.Parse(time.RFC3339, p.Tags[LeaseTagKey]); err == nil && until.After(start) {
			d.log.Info("drill: another drill of this pool is running; its scratch pool is left alone", zap.String("scratch_pool", p.ID), zap.Time("lease_until", until))
			continue
		}
		if err := d.pools.DeleteUserPool(ctx, p.ID); err != nil && !errors.Is(err, idmirror.ErrPoolNotFound) {
			return fmt.Errorf("delete leftover scratch pool %s: %w", p.ID, err)
		}
		d.log.Info("drill: deleted a leftover scratch pool", zap.String("scratch_pool", p.ID))
		rep.Cleaned = append(rep.Cleaned, p.ID)
	}
	return nil
}

// mirrored is what the RPO estimate needs of a mirrored user.
type mirrored struct{ latest time.Time }

// snapshot copies the mirror's pool, as of now, into memory: configuration,
// live groups, live users (or a sample of them).
func (d *Driller) snapshot(ctx context.Context, opt Options, rep *Report) (*memmirror.Store, idmirror.PoolConfig, map[string]mirrored, error) {
	asOf := d.now()
	rep.AsOf = asOf
	cfg, _, err := d.store.PoolConfig(ctx, opt.SourcePool)
	if errors.Is(err, idmirror.ErrNotFound) {
		return nil, cfg, nil, fmt.Errorf("the mirror holds no configuration of pool %s: run a sync first (idmirror sync --repair): %w", opt.SourcePool, err)
	}
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("read the pool's configuration from the mirror: %w", err)
	}
	mem := memmirror.New()
	if _, err := mem.PutPoolConfig(ctx, cfg, asOf, idmirror.SourceSync); err != nil {
		return nil, cfg, nil, err
	}
	recs, err := d.store.Groups(ctx, opt.SourcePool)
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("read the mirror's groups: %w", err)
	}
	for _, r := range recs {
		g, err := d.store.GroupAsOf(ctx, opt.SourcePool, r.Name, asOf)
		if errors.Is(err, idmirror.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, cfg, nil, fmt.Errorf("read group %s from the mirror: %w", r.Name, err)
		}
		if g.Deleted {
			continue
		}
		if _, err := mem.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: asOf, Source: idmirror.SourceSync}); err != nil {
			return nil, cfg, nil, err
		}
		rep.Groups++
	}
	seed := opt.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var mu gosync.Mutex
	var sample []idmirror.User
	seen := map[string]mirrored{}
	// A seeded sample is reproducible only over one order of the users: one
	// segment reads the shards in turn, each in key order.
	segments := 4
	if opt.Seed != 0 {
		segments = 1
	}
	err = d.store.ExportUsers(ctx, opt.SourcePool, idmirror.ExportOptions{Segments: segments, AsOf: asOf}, func(rec idmirror.UserRecord) error {
		if rec.Deleted {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		latest := rec.Modified
		if rec.ObservedAt.After(latest) {
			latest = rec.ObservedAt
		}
		seen[rec.Sub] = mirrored{latest: latest}
		if rec.Modified.After(rep.RPO.MirrorNewestChange) {
			rep.RPO.MirrorNewestChange = rec.Modified
		}
		rep.MirroredUsers++
		// Reservoir sampling (Algorithm R): uniform over the live users,
		// in one pass, memory bounded by the sample.
		switch {
		case opt.Sample == 0 || len(sample) < opt.Sample:
			sample = append(sample, rec.User)
		default:
			if j := rng.IntN(rep.MirroredUsers); j < opt.Sample {
				sample[j] = rec.User
			}
		}
		return nil
	})
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("read the mirror's users: %w", err)
	}
	for _, u := range sample {
		if _, err := mem.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: asOf, Source: idmirror.SourceSync}); err != nil {
			return nil, cfg, nil, fmt.Errorf("copy user %s into memory: %w", u.Sub, err)
		}
	}
	rep.Sampled = len(sample)
	return mem, cfg, seen, nil
}

// rpo lists the source pool's users (paged reads only) and compares each
// one's UserLastModifiedDate with the mirror's record.
func (d *Driller) rpo(ctx context.Context, source string, seen map[string]mirrored, rep *Report) error {
	now := d.now()
	var oldest time.Time
	err := d.pools.ListUsers(ctx, source, func(u idmirror.User, _ time.Time) error {
		if u.Modified.After(rep.RPO.PoolNewestChange) {
			rep.RPO.PoolNewestChange = u.Modified
		}
		m, ok := seen[u.Sub]
		if !ok || u.Modified.After(m.latest) {
			rep.RPO.UnmirroredUsers++
			if oldest.IsZero() || u.Modified.Before(oldest) {
				oldest = u.Modified
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list the source pool's users (RPO estimate): %w", err)
	}
	if lag := rep.RPO.PoolNewestChange.Sub(rep.RPO.MirrorNewestChange); lag > 0 {
		rep.RPO.Lag = lag
	}
	if !oldest.IsZero() {
		rep.RPO.Estimate = max(0, now.Sub(oldest))
	}
	return nil
}

// SetClock replaces the drill's clock (tests).
func (d *Driller) SetClock(now func() time.Time) { d.now = now }
