// Package restore rebuilds a user pool from the mirror: groups first, then
// each user (create, disable at once if it was disabled, memberships, SMS MFA
// preference), as of now or as of a point in time. It plans before it writes,
// checks the target pool before anything is written, derives every step
// from the target's current state (so a second run changes nothing and a run
// killed half-way finishes when run again), and paces its calls per Cognito
// quota category, different users' calls in flight together.
//
// Restore writes only to accounts it created or can prove are the mirrored
// identity's (the same sub, the mirror's link, the same identity-provider
// identity; where only administrators create users, also the legacy-sub
// attribute no app client can write, or the intent it records in the mirror
// before each AdminCreateUser). Any other account under a restored user's
// name is a conflict: left alone and reported, unless ops adopt it on purpose.
package restore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/workers"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/security"
)

// PasswordMode says what restored users get instead of their password,
// which Cognito cannot export.
type PasswordMode string

// Password modes.
const (
	// Invite: Cognito sends an invitation with a temporary password.
	Invite PasswordMode = "invite"
	// Reset: a random permanent password, then a reset: users set a new
	// password with the code Cognito sends to their verified email or phone.
	Reset PasswordMode = "reset"
	// Suppress: no message; ops hand out access (AdminSetUserPassword).
	Suppress PasswordMode = "suppress"
)

// ParsePasswordMode checks a --password-mode value.
func ParsePasswordMode(s string) (PasswordMode, error) {
	switch m := PasswordMode(s); m {
	case Invite, Reset, Suppress:
		return m, nil
	}
	return "", fmt.Errorf("%w: password mode %q: want invite, reset or suppress", idmirror.ErrInvalid, s)
}

// Target is the part of the Cognito adapter restore uses on the target pool.
type Target interface {
	Describe(ctx context.Context, poolID string) (idmirror.PoolConfig, error)
	ListGroups(ctx context.Context, poolID string) ([]idmirror.Group, error)
	CreateGroup(ctx context.Context, g idmirror.Group) error
	UpdateGroup(ctx context.Context, g idmirror.Group) error
	GetUser(ctx context.Context, poolID, username string) (idmirror.User, error)
	CreateUser(ctx context.Context, poolID, username string, attrs map[string]string, how cognito.Invitation) (idmirror.User, error)
	UpdateAttributes(ctx context.Context, poolID, username string, attrs map[string]string) error
	SetEnabled(ctx context.Context, poolID, username string, enabled bool) error
	AddToGroup(ctx context.Context, poolID, username, group string) error
	RemoveFromGroup(ctx context.Context, poolID, username, group string) error
	SetSMSMFA(ctx context.Context, poolID, username string, enabled, preferred bool) error
	SetRandomPassword(ctx context.Context, poolID, username string) error
	ResetPassword(ctx context.Context, poolID, username string) error
	DeleteAttributes(ctx context.Context, poolID, username string, names []string) error
	ClientWriteAttributes(ctx context.Context, poolID string) (map[string][]string, error)
}

// Mirror is the part of the mirror restore reads and writes.
type Mirror interface {
	PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error)
	PutPoolConfig(ctx context.Context, cfg idmirror.PoolConfig, at time.Time, src idmirror.Source) (idmirror.Outcome, error)
	Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error)
	GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error)
	PutGroup(ctx context.Context, w idmirror.GroupWrite) (idmirror.Outcome, error)
	ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error
	FindByUsername(ctx context.Context, pool, username string) ([]idmirror.UserRecord, error)
	UserAsOf(ctx context.Context, pool, sub string, t time.Time) (idmirror.User, error)
	PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error)
	GetUser(ctx context.Context, pool, sub string) (idmirror.UserRecord, error)
	PutIntent(ctx context.Context, in mirror.Intent) error
	Intent(ctx context.Context, pool, username string) (mirror.Intent, error)
}

// Options says what to restore where.
type Options struct {
	SourcePool string
	TargetPool string
	// AsOf restores the pool as it was at that instant (zero: now).
	AsOf time.Time
	// Users restores only these usernames (and the groups they need).
	Users []string
	// PasswordMode is required to write (not for a dry run).
	PasswordMode PasswordMode
	// LegacySubAttribute ("custom:legacy_sub") receives each user's old sub.
	LegacySubAttribute string
	// AllowOpenSignup lets restore write into a pool where users can sign
	// themselves up (preflight refuses it otherwise).
	AllowOpenSignup bool
	// Adopt names existing target accounts (usernames) restore may take over
	// without a proof that they are the mirrored identity's.
	Adopt []string
	// Concurrency is how many users are in progress at once (default 16).
	Concurrency int
	// OnStart learns how many users the run will go through, after the
	// preflight and before the first write.
	OnStart func(users int)
	// OnUser receives each user's result as it is done (from several goroutines).
	OnUser func(UserResult)
	// Actor is who runs the restore (the operator's identity and the run
	// id), recorded on every history item the run writes.
	Actor idmirror.Actor
}

// Action is what restore did (or, in a dry run, would do) to a user or group.
type Action string

// Actions.
const (
	Create  Action = "create"
	Update  Action = "update"
	InPlace Action = "in-place"
	Skip    Action = "skip"
	Failed  Action = "failed"
	// Conflict: the target holds an account under the user's name that
	// restore cannot prove is the mirrored identity's; nothing was written to
	// it (Notes and Error say why and what to do).
	Conflict Action = "conflict"
)

// UserResult is one user's outcome.
type UserResult struct {
	Username string   `json:"username"`
	OldSub   string   `json:"old_sub"`
	NewSub   string   `json:"new_sub,omitempty"`
	Action   Action   `json:"action"`
	Steps    []string `json:"steps,omitempty"` // what was (or would be) done
	Notes    []string `json:"notes,omitempty"` // what ops should know (TOTP, federation, …)
	Error    string   `json:"error,omitempty"`
}

// GroupResult is one group's outcome.
type GroupResult struct {
	Name   string   `json:"name"`
	Action Action   `json:"action"`
	Steps  []string `json:"steps,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// Report sums up a run; per-user results go to Options.OnUser as they come,
// so memory does not grow with the pool.
type Report struct {
	SourcePool string         `json:"source_pool"`
	TargetPool string         `json:"target_pool"`
	AsOf       time.Time      `json:"as_of"`
	DryRun     bool           `json:"dry_run"`
	Warnings   []string       `json:"warnings,omitempty"`
	Groups     []GroupResult  `json:"groups"`
	Users      int            `json:"users"`
	Counts     map[Action]int `json:"counts"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	Calls      int64          `json:"cognito_calls"`
	Throttled  int64          `json:"cognito_throttled"`
}

// ErrPreflight: the target pool (or the mirror) cannot take the restore;
// nothing was written.
var ErrPreflight = errors.New("preflight failed")

// Restorer runs restores from one mirror.
type Restorer struct {
	store  Mirror
	target Target
	stats  func() (int64, int64)
	log    *zap.Logger
	now    func() time.Time
	alerts *security.Emitter
}

// SetSecurity makes every run that writes raise a restore_ran security
// event (nil: none — a drill raises its own "drill ran" instead).
func (r *Restorer) SetSecurity(e *security.Emitter) { r.alerts = e }

// New returns a restorer. stats, if set, reports Cognito calls for the report.
func New(store Mirror, target Target, stats func() (int64, int64), log *zap.Logger) *Restorer {
	if log == nil {
		log = zap.NewNop()
	}
	return &Restorer{store: store, target: target, stats: stats, log: log, now: time.Now}
}

// setup is what preflight learned.
type setup struct {
	opt        Options
	asOf       time.Time
	source     idmirror.PoolConfig
	target     idmirror.PoolConfig
	mutable    map[string]bool // target attributes that can be updated
	groups     []idmirror.Group
	users      int
	byUsername bool     // target users are keyed by username
	keyAttrs   []string // else by the first of these attributes the user has (email, phone_number)
	required   map[string]bool
	adopt      map[string]bool // --adopt: usernames (or sign-in names) to take over without a proof
	// legacyProof: the legacy-sub attribute proves an account restore's (no
	// app client can write it, and only administrators create users).
	legacyProof bool
	named       []idmirror.User // a restore of named users: them, as of asOf
	warnings    []string
	// superseded are mirrored users (subs) whose username a newer account
	// held as of the restore's instant: the mirror had not yet seen their
	// deletion. Usernames are unique in a pool at any instant, so the one
	// Cognito created later holds it; the other is skipped, never merged
	// into it.
	superseded map[string]bool
	ambiguous  map[string]bool // superseded for want of a creation date
	// targetGroups: the target's groups by name, read with one paged
	// ListGroups when the first group is planned (a GetGroup per group would
	// spend the 5 RPS per-pool cap of UserPoolResourceRead).
	targetGroups map[string]idmirror.Group
}

// sourceKey is a mirrored user's sign-in name as the source pool compares
// names (the username, or the email or phone it signs in with; without case
// where the source ignores it): unique among its live users at any instant.
func sourceKey(s *setup, u idmirror.User) string {
	key := u.Username
	if !s.byUsername && !federated(u) {
		for _, a := range s.keyAttrs {
			if v := u.Attributes[a]; v != "" {
				key = a + ":" + v
				break
			}
		}
	}
	if !s.source.UsernamesCaseSensitive() {
		key = strings.ToLower(key)
	}
	return key
}

var roleArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)

// Plan is a whole restore, planned: what preflight found, each group's and
// each user's plan. Apply carries it out.
type Plan struct {
	setup  *setup
	Groups []GroupPlan
	Users  []UserPlan
}

// Warnings are what ops should know before applying the plan.
func (pl *Plan) Warnings() []string { return pl.setup.warnings }

// AsOf is the instant the plan restores.
func (pl *Plan) AsOf() time.Time { return pl.setup.asOf }

func (r *Restorer) newReport(opt Options, dryRun bool) (*Report, func()) {
	rep := &Report{SourcePool: opt.SourcePool, TargetPool: opt.TargetPool, AsOf: opt.AsOf, DryRun: dryRun,
		Counts: map[Action]int{}, StartedAt: r.now(), Groups: []GroupResult{}}
	calls := cognito.Since(r.stats)
	return rep, func() {
		rep.FinishedAt = r.now()
		rep.Calls, rep.Throttled = calls()
	}
}

func (r *Restorer) count(rep *Report, mu *gosync.Mutex, on func(UserResult), res UserResult) {
	mu.Lock()
	rep.Counts[res.Action]++
	mu.Unlock()
	if on != nil {
		on(res)
	}
}

// DryRun plans the restore and reports every user's plan through
// Options.OnUser; it writes nothing. A preflight failure returns ErrPreflight.
func (r *Restorer) DryRun(ctx context.Context, opt Options) (*Report, error) {
	rep, done := r.newReport(opt, true)
	defer done()
	s, err := r.preflight(ctx, opt)
	if err != nil {
		return rep, err
	}
	r.started(rep, s)
	for _, g := range s.groups {
		gp, err := r.planGroup(ctx, s, g)
		if err != nil {
			return rep, fmt.Errorf("group %s: %w", g.Name, err)
		}
		rep.Groups = append(rep.Groups, gp.result())
	}
	var mu gosync.Mutex
	err = r.eachUser(ctx, s, func(u idmirror.User) error {
		r.count(rep, &mu, s.opt.OnUser, r.planFor(ctx, s, u).Result())
		return ctx.Err()
	})
	return rep, err
}

// Plan plans the whole restore and keeps every user's plan, for a caller
// that shows it and asks before Apply. Memory grows with the users restored.
func (r *Restorer) Plan(ctx context.Context, opt Options) (*Plan, error) {
	s, err := r.preflight(ctx, opt)
	if err != nil {
		return nil, err
	}
	pl := &Plan{setup: s}
	for _, g := range s.groups {
		gp, err := r.planGroup(ctx, s, g)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		pl.Groups = append(pl.Groups, gp)
	}
	var mu gosync.Mutex
	err = r.eachUser(ctx, s, func(u idmirror.User) error {
		up := r.planFor(ctx, s, u)
		mu.Lock()
		pl.Users = append(pl.Users, up)
		mu.Unlock()
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(pl.Users, func(i, j int) bool { return pl.Users[i].User.Username < pl.Users[j].User.Username })
	return pl, nil
}

// Apply carries out a plan made by Plan: the groups, then the users, several
// at once, each user's steps in order. Options.OnUser receives each result.
func (r *Restorer) Apply(ctx context.Context, pl *Plan) (*Report, error) {
	s := pl.setup
	rep, done := r.newReport(s.opt, false)
	defer done()
	if err := r.begin(ctx, rep, s); err != nil {
		return rep, err
	}
	for _, gp := range pl.Groups {
		if err := r.applyGroup(ctx, s, rep, gp); err != nil {
			return rep, err
		}
	}
	var mu gosync.Mutex
	err := workers.Run(ctx, s.opt.Concurrency, func(ctx context.Context, emit func(UserPlan) error) error {
		for _, up := range pl.Users {
			if err := emit(up); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, up UserPlan) error {
		r.count(rep, &mu, s.opt.OnUser, r.execute(ctx, s, up))
		return ctx.Err()
	})
	return rep, err
}

// Run restores: preflight, then each group and each user planned against the
// target's current state and carried out at once, streaming (memory does not
// grow with the pool). A preflight failure returns ErrPreflight before
// anything is written.
func (r *Restorer) Run(ctx context.Context, opt Options) (*Report, error) {
	rep, done := r.newReport(opt, false)
	defer done()
	s, err := r.preflight(ctx, opt)
	if err != nil {
		return rep, err
	}
	if err := r.begin(ctx, rep, s); err != nil {
		return rep, err
	}
	for _, g := range s.groups {
		gp, err := r.planGroup(ctx, s, g)
		if err == nil {
			err = r.applyGroup(ctx, s, rep, gp)
		}
		if err != nil {
			return rep, fmt.Errorf("group %s: %w", g.Name, err)
		}
	}
	var mu gosync.Mutex
	err = r.eachUser(ctx, s, func(u idmirror.User) error {
		r.count(rep, &mu, s.opt.OnUser, r.execute(ctx, s, r.planFor(ctx, s, u)))
		return ctx.Err()
	})
	return rep, err
}

func (r *Restorer) started(rep *Report, s *setup) {
	rep.Warnings, rep.Users, rep.AsOf = s.warnings, s.users, s.asOf
	if s.opt.OnStart != nil {
		s.opt.OnStart(s.users)
	}
}

// begin checks what only a real run needs and records the target's configuration.
func (r *Restorer) begin(ctx context.Context, rep *Report, s *setup) error {
	if _, err := ParsePasswordMode(string(s.opt.PasswordMode)); err != nil {
		return err
	}
	r.started(rep, s)
	detail := "from " + s.opt.SourcePool + " as of " + s.asOf.UTC().Format(time.RFC3339)
	if len(s.opt.Users) > 0 {
		detail += fmt.Sprintf(" (%d named users)", len(s.opt.Users))
	}
	r.alerts.Emit(security.Event{Kind: security.RestoreRan, PoolID: s.opt.TargetPool, Count: s.users, Source: string(idmirror.SourceRestore),
		Actor: s.opt.Actor.String(), Detail: detail, At: r.now()})
	_, err := r.store.PutPoolConfig(ctx, s.target, r.now(), idmirror.SourceRestore)
	return err
}

// preflight checks everything a restore needs before it writes anything.
func (r *Restorer) preflight(ctx context.Context, opt Options) (*setup, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 16
	}
	p := &setup{opt: opt, asOf: opt.AsOf, mutable: map[string]bool{}, required: map[string]bool{}, adopt: map[string]bool{}}
	if p.asOf.IsZero() {
		p.asOf = r.now()
	}
	for _, a := range opt.Adopt {
		p.adopt[a] = true
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrPreflight, fmt.Sprintf(format, args...))
	}
	if opt.SourcePool == "" || opt.TargetPool == "" {
		return nil, fail("need a source and a target pool")
	}
	target, err := r.target.Describe(ctx, opt.TargetPool)
	if errors.Is(err, idmirror.ErrPoolNotFound) {
		return nil, fail("target pool %s does not exist: restore never creates a pool; deploy the identity stack (or create the pool) first", opt.TargetPool)
	}
	if err != nil {
		return nil, fmt.Errorf("describe target pool: %w", err)
	}
	p.target = target
	if !target.AdminCreateOnly && !opt.AllowOpenSignup {
		return nil, fail("users can sign themselves up to target pool %s (AdminCreateUserConfig.AllowAdminCreateUserOnly is false): "+
			"a stranger could register a restored user's name before restore gets to it. Close sign-up until the restore is done "+
			"(UpdateUserPool with AllowAdminCreateUserOnly=true; the identity stack's default), or pass --allow-open-signup "+
			"(then an existing account is taken over only if it has the mirrored user's sub, the mirror's link or identity-provider identity)", opt.TargetPool)
	}
	if opt.PasswordMode == Reset && len(target.AccountRecovery) == 1 && target.AccountRecovery[0] == "admin_only" {
		return nil, fail("--password-mode reset needs the target pool to send reset codes, but its AccountRecoverySetting is admin_only: " +
			"use --password-mode invite or suppress, or set the recovery mechanisms to verified_email / verified_phone_number")
	}
	inSchema := map[string]bool{}
	for _, a := range target.Schema {
		inSchema[a.Name] = true
		p.mutable[a.Name] = a.Mutable
		p.required[a.Name] = a.Required
	}
	source, _, err := r.store.PoolConfig(ctx, opt.SourcePool)
	switch {
	case errors.Is(err, idmirror.ErrNotFound):
		p.warnings = append(p.warnings, "the mirror holds no configuration of the source pool (no sync has run): its username attributes are assumed to match the target's")
		source = idmirror.PoolConfig{PoolID: opt.SourcePool, UsernameAttributes: target.UsernameAttributes, AliasAttributes: target.AliasAttributes}
	case err != nil:
		return nil, err
	}
	p.source = source
	if a, b := strings.Join(idmirror.SortedUnique(source.UsernameAttributes), ","), strings.Join(idmirror.SortedUnique(target.UsernameAttributes), ","); a != b {
		return nil, fail("username attributes differ: the source pool signs in with [%s], the target with [%s]; create the target with the same UsernameAttributes", a, b)
	}
	for _, a := range source.AliasAttributes {
		if !contains(target.AliasAttributes, a) {
			return nil, fail("the source pool has alias attribute %s, the target pool does not; add it to the target's AliasAttributes", a)
		}
	}
	p.byUsername = len(source.UsernameAttributes) == 0
	for _, a := range []string{"email", "phone_number"} {
		if contains(source.UsernameAttributes, a) {
			p.keyAttrs = append(p.keyAttrs, a)
		}
	}
	if l := opt.LegacySubAttribute; l != "" {
		if !strings.HasPrefix(l, "custom:") || !inSchema[l] || !p.mutable[l] {
			return nil, fail("--legacy-sub-attribute %s must be a mutable custom attribute of the target pool's schema", l)
		}
		clients, err := r.target.ClientWriteAttributes(ctx, opt.TargetPool)
		if err != nil {
			return nil, fmt.Errorf("read the target's app clients: %w", err)
		}
		var writers []string
		for id, attrs := range clients {
			if len(attrs) == 0 || contains(attrs, l) {
				writers = append(writers, id)
			}
		}
		sort.Strings(writers)
		p.legacyProof = len(writers) == 0 && target.AdminCreateOnly
		if len(writers) > 0 {
			p.warnings = append(p.warnings, fmt.Sprintf("app clients %s can write %s (no WriteAttributes, or listed): it does not prove an existing account restore's; pin their WriteAttributes",
				strings.Join(writers, ", "), l))
		}
	}
	if len(opt.Users) > 0 {
		if err := r.resolveNamed(ctx, p); err != nil {
			return nil, err
		}
	}

	// One pass over the users to restore: what they need of the target, and
	// the names the target would fold together.
	needGroups := map[string]bool{}
	missing := map[string]bool{}
	names := newNameIndex(target)
	holders := map[string]idmirror.User{}
	p.superseded, p.ambiguous = map[string]bool{}, map[string]bool{}
	var mu gosync.Mutex
	err = r.eachUser(ctx, p, func(u idmirror.User) error {
		mu.Lock()
		defer mu.Unlock()
		p.users++
		// Two live mirrored users with one sign-in name, as the source pool
		// compares names: one was deleted and the mirror had not seen it yet.
		key := sourceKey(p, u)
		if h, ok := holders[key]; ok {
			switch {
			case p.ambiguous[h.Sub]:
				// The name is already undecided: every other holder too.
				p.superseded[u.Sub], p.ambiguous[u.Sub] = true, true
				return nil
			case h.Created.IsZero() || u.Created.IsZero():
				// Cognito's creation date of one is not mirrored yet (only
				// the trigger saw it): which holds the name is unknown, so
				// neither is restored; ops choose with --user.
				p.superseded[h.Sub], p.superseded[u.Sub], p.ambiguous[u.Sub], p.ambiguous[h.Sub] = true, true, true, true
				return nil
			case h.Created.After(u.Created) || h.Created.Equal(u.Created) && h.Sub > u.Sub:
				p.superseded[u.Sub] = true
				return nil // it needs nothing of the target
			}
			p.superseded[h.Sub] = true
		}
		holders[key] = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, u := range holders {
		if up, ok := targetKey(p, u); ok {
			names.add(up.Key, u)
		}
		if p.superseded[u.Sub] {
			continue // not restored: it needs nothing of the target
		}
		for name := range u.Attributes {
			if strings.HasPrefix(name, "custom:") && !inSchema[name] {
				missing[name] = true
			}
		}
		for _, g := range u.Groups {
			needGroups[g] = true
		}
	}
	if n := len(p.ambiguous); n > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%d mirrored users share a sign-in name with another and the mirror does not know which Cognito created later: none of them is restored (see their notes); restore the right one with --user sub:SUB", n))
	}
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fail("target pool %s lacks custom attributes the users carry: %s; add them to its schema (AddCustomAttributes) before restoring", opt.TargetPool, strings.Join(names, ", "))
	}
	if c := names.collisions(); len(c) > 0 {
		return nil, fail("the target pool would make distinct users one: %s. Restore them into a pool that tells them apart "+
			"(UsernameConfiguration.CaseSensitive true, the source's aliases), or rename one in the source first", strings.Join(c, "; "))
	}
	groups, err := r.groupsAsOf(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if len(opt.Users) > 0 && !needGroups[g.Name] {
			continue
		}
		if g.RoleArn != "" && !roleArnRE.MatchString(g.RoleArn) {
			return nil, fail("group %s has a malformed role ARN %q", g.Name, g.RoleArn)
		}
		delete(needGroups, g.Name)
		p.groups = append(p.groups, g)
	}
	for g := range needGroups {
		p.warnings = append(p.warnings, fmt.Sprintf("users belong to group %s, which the mirror does not hold as of %s: those memberships are skipped", g, p.asOf.Format(time.RFC3339)))
	}
	sort.Strings(p.warnings)
	return p, nil
}

// groupsAsOf returns the source pool's live groups at the plan's instant.
func (r *Restorer) groupsAsOf(ctx context.Context, p *setup) ([]idmirror.Group, error) {
	recs, err := r.store.Groups(ctx, p.opt.SourcePool)
	if err != nil {
		return nil, err
	}
	var out []idmirror.Group
	for _, rec := range recs {
		g, err := r.store.GroupAsOf(ctx, p.opt.SourcePool, rec.Name, p.asOf)
		if errors.Is(err, idmirror.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !g.Deleted {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// eachUser streams the users to restore, as of the plan's instant, to fn
// from Concurrency goroutines. A full restore skips users deleted by then; a
// restore of named users brings back their last state even if deleted (the
// everyday case of an account deleted by mistake).
func (r *Restorer) eachUser(ctx context.Context, p *setup, fn func(idmirror.User) error) error {
	if len(p.opt.Users) > 0 {
		for _, u := range p.named {
			if err := fn(u); err != nil {
				return err
			}
		}
		return nil
	}
	return workers.Run(ctx, p.opt.Concurrency, func(ctx context.Context, emit func(idmirror.User) error) error {
		return r.store.ExportUsers(ctx, p.opt.SourcePool, idmirror.ExportOptions{Segments: 4, AsOf: p.asOf}, func(rec idmirror.UserRecord) error {
			if rec.Deleted {
				return nil
			}
			return emit(rec.User)
		})
	}, func(_ context.Context, u idmirror.User) error { return fn(u) })
}

// resolveNamed reads the named users from the mirror, once, before anything
// is written: the live holder of each username, else its most recent
// tombstone, as of the plan's instant.
func (r *Restorer) resolveNamed(ctx context.Context, p *setup) error {
	for _, name := range p.opt.Users {
		if sub, ok := strings.CutPrefix(name, "sub:"); ok {
			u, err := r.store.UserAsOf(ctx, p.opt.SourcePool, sub, p.asOf)
			if err != nil {
				return fmt.Errorf("%w: user with sub %s as of %s: %w", ErrPreflight, sub, p.asOf.Format(time.RFC3339), err)
			}
			u.Deleted = false
			p.named = append(p.named, u)
			continue
		}
		recs, err := r.store.FindByUsername(ctx, p.opt.SourcePool, name)
		if err != nil {
			return fmt.Errorf("%w: find user %s in the mirror: %w", ErrPreflight, name, err)
		}
		if len(recs) == 0 {
			return fmt.Errorf("%w: user %s is not in the mirror of pool %s", ErrPreflight, name, p.opt.SourcePool)
		}
		// Each account that has held the name, as it was at the instant:
		// the one alive then is the one to restore. Two alive at once means
		// the mirror had not seen a deletion yet: Cognito created the later
		// one, which held the name; without both creation dates it is
		// undecided and ops name the account by sub.
		var alive, gone []idmirror.User
		for _, rec := range recs {
			u, err := r.store.UserAsOf(ctx, p.opt.SourcePool, rec.Sub, p.asOf)
			switch {
			case errors.Is(err, idmirror.ErrNotFound):
				continue // not created yet at the instant
			case err != nil:
				return fmt.Errorf("%w: read user %s as of %s from the mirror: %w", ErrPreflight, name, p.asOf.Format(time.RFC3339), err)
			case u.Deleted:
				gone = append(gone, u)
			default:
				alive = append(alive, u)
			}
		}
		var pick idmirror.User
		switch {
		case len(alive) == 1:
			pick = alive[0]
		case len(alive) > 1:
			sort.Slice(alive, func(i, j int) bool { return alive[i].Created.After(alive[j].Created) })
			if alive[0].Created.IsZero() || alive[1].Created.IsZero() || alive[0].Created.Equal(alive[1].Created) {
				subs := make([]string, len(alive))
				for i, u := range alive {
					subs[i] = "sub:" + u.Sub
				}
				return fmt.Errorf("%w: %d mirrored accounts held the name %s as of %s and which one Cognito created last is not known: name one with --user %s", ErrPreflight, len(alive), name, p.asOf.Format(time.RFC3339), strings.Join(subs, " or --user "))
			}
			pick = alive[0]
		case len(gone) > 0:
			// Deleted by the instant (restoring a deleted account): the one
			// deleted last held the name last.
			sort.Slice(gone, func(i, j int) bool { return gone[i].Modified.After(gone[j].Modified) })
			pick = gone[0]
		default:
			return fmt.Errorf("%w: user %s did not exist as of %s: %w", ErrPreflight, name, p.asOf.Format(time.RFC3339), idmirror.ErrNotFound)
		}
		pick.Deleted = false
		p.named = append(p.named, pick)
	}
	return nil
}

// planGroup plans a group against the target's groups (read once, on the
// first call).
func (r *Restorer) planGroup(ctx context.Context, s *setup, g idmirror.Group) (GroupPlan, error) {
	if s.targetGroups == nil {
		gs, err := r.target.ListGroups(ctx, s.opt.TargetPool)
		if err != nil {
			return GroupPlan{}, fmt.Errorf("list the target's groups: %w", err)
		}
		s.targetGroups = make(map[string]idmirror.Group, len(gs))
		for _, tg := range gs {
			s.targetGroups[tg.Name] = tg
		}
	}
	want := g
	want.PoolID = s.opt.TargetPool
	keep := len(s.opt.Users) > 0
	cur, ok := s.targetGroups[g.Name]
	if !ok {
		return planGroup(want, nil, keep), nil
	}
	return planGroup(want, &cur, keep), nil
}

func (gp GroupPlan) result() GroupResult {
	return GroupResult{Name: gp.Group.Name, Action: gp.Action, Steps: gp.Steps, Notes: gp.Notes}
}

// applyGroup carries out a group's plan and records the group in the mirror.
func (r *Restorer) applyGroup(ctx context.Context, s *setup, rep *Report, gp GroupPlan) error {
	var err error
	switch gp.Action {
	case Create:
		if err = r.target.CreateGroup(ctx, gp.Group); errors.Is(err, idmirror.ErrExists) {
			err = nil
		}
	case Update:
		err = r.target.UpdateGroup(ctx, gp.Group)
	}
	// The mirror records the group as the target holds it now.
	held := gp.Group
	if gp.Action == InPlace && gp.Current != nil {
		held = *gp.Current
		held.PoolID = gp.Group.PoolID
	}
	if err == nil {
		_, err = r.store.PutGroup(ctx, idmirror.GroupWrite{Group: held, At: r.now(), Source: idmirror.SourceRestore, Actor: s.opt.Actor})
	}
	if err != nil {
		return fmt.Errorf("group %s: %w", gp.Group.Name, err)
	}
	rep.Groups = append(rep.Groups, gp.result())
	return nil
}

// SetCallbacks replaces the plan's progress callbacks (Options.OnStart and
// OnUser) before Apply: a caller that printed the plan with other ones.
func (pl *Plan) SetCallbacks(onStart func(int), onUser func(UserResult)) {
	pl.setup.opt.OnStart, pl.setup.opt.OnUser = onStart, onUser
}

// Report sums up the plan as a dry run would.
func (pl *Plan) Report() *Report {
	s := pl.setup
	rep := &Report{SourcePool: s.opt.SourcePool, TargetPool: s.opt.TargetPool, AsOf: s.asOf, DryRun: true,
		Warnings: s.warnings, Users: len(pl.Users), Counts: map[Action]int{}, Groups: []GroupResult{}}
	for _, g := range pl.Groups {
		rep.Groups = append(rep.Groups, g.result())
	}
	for _, u := range pl.Users {
		rep.Counts[u.Action]++
	}
	return rep
}

// SetClock replaces the clock that stamps restore's mirror writes (tests).
func (r *Restorer) SetClock(now func() time.Time) { r.now = now }
