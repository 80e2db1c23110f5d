// Package verify compares a restored user pool with the mirror as of the
// instant the restore used, field by field: users (matched by the mirror's
// origin link, the legacy-sub attribute, or — for a drill — the sign-in
// name), their attributes, enabled state and status class, the groups and
// their definitions, and the memberships; with Deep, the SMS MFA preference.
// What a restore cannot carry over (TOTP, federated users, users that never
// finished signing up) is reported apart, never as a difference.
//
// It reads the target with paged listings only (ListUsers, ListGroups,
// ListUsersInGroup); Deep adds one AdminGetUser (and
// AdminListGroupsForUser) per user, at the adapter's pace. It writes
// nothing, to the pool or to the mirror.
package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/workers"
)

// Target is the part of the Cognito adapter verify reads the restored pool with.
type Target interface {
	ListUsers(ctx context.Context, poolID string, fn func(u idmirror.User, at time.Time) error) error
	ListGroups(ctx context.Context, poolID string) ([]idmirror.Group, error)
	GroupMembers(ctx context.Context, poolID, group string, fn func(username string) error) error
	GetUser(ctx context.Context, poolID, username string) (idmirror.User, error)
}

// Mirror is the part of the mirror verify reads.
type Mirror interface {
	PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error)
	Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error)
	GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error)
	ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error
	GetUser(ctx context.Context, pool, sub string) (idmirror.UserRecord, error)
}

// Options says what to compare.
type Options struct {
	SourcePool string
	TargetPool string
	// AsOf is the instant the restore used (zero: now).
	AsOf time.Time
	// ByName also matches a target user to the mirrored user with the same
	// sign-in name (a drill's scratch pool, where nobody else makes
	// accounts). Without it only the mirror's origin link or the
	// legacy-sub attribute match: an unlinked account under a restored
	// user's name may be a stranger's.
	ByName bool
	// LegacySubAttribute ("custom:legacy_sub") holds each restored user's old sub.
	LegacySubAttribute string
	// Deep also compares the SMS MFA preference (AdminGetUser per user).
	Deep bool
	// Concurrency of the Deep reads (default 8).
	Concurrency int
}

// Kinds of difference.
const (
	MissingUser       = "missing-user"       // mirrored, not in the target
	UnexpectedUser    = "unexpected-user"    // in the target, matches no mirrored user
	UserField         = "user-field"         // an attribute, enabled, status class or SMS MFA differs
	MissingGroup      = "missing-group"      //
	UnexpectedGroup   = "unexpected-group"   //
	GroupField        = "group-field"        // description, precedence or role ARN differs
	MissingMembership = "missing-membership" // the mirror has the user in the group, the target does not
	ExtraMembership   = "extra-membership"   //
)

// Difference is one way the target is not what the mirror promised. It
// names the user (the mirrored username) or the group, and the field.
type Difference struct {
	Kind  string `json:"kind"`
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	Field string `json:"field,omitempty"`
	Want  string `json:"want,omitempty"` // the mirror's value
	Got   string `json:"got,omitempty"`  // the target's value
}

func (d Difference) String() string {
	var b strings.Builder
	b.WriteString(d.Kind)
	if d.User != "" {
		fmt.Fprintf(&b, " user %s", d.User)
	}
	if d.Group != "" {
		fmt.Fprintf(&b, " group %s", d.Group)
	}
	if d.Field != "" {
		fmt.Fprintf(&b, " field %s: want %q, got %q", d.Field, d.Want, d.Got)
	}
	return b.String()
}

// NotCarried is what a restore cannot bring back, by design.
type NotCarried struct {
	User   string `json:"user"`
	Reason string `json:"reason"`
}

// Report is what verify found.
type Report struct {
	SourcePool  string        `json:"source_pool"`
	TargetPool  string        `json:"target_pool"`
	AsOf        time.Time     `json:"as_of"`
	Expected    int           `json:"expected_users"` // mirrored users a restore brings back
	Users       int           `json:"target_users"`
	Matched     int           `json:"matched_users"`
	Groups      int           `json:"groups"`
	Memberships int           `json:"memberships"` // expected memberships
	Differences []Difference  `json:"differences"`
	NotCarried  []NotCarried  `json:"cannot_be_carried_over,omitempty"`
	StartedAt   time.Time     `json:"started_at"`
	FinishedAt  time.Time     `json:"finished_at"`
	Took        time.Duration `json:"took_ns"`
	Calls       int64         `json:"cognito_calls"`
	Throttled   int64         `json:"cognito_throttled"`
}

// Equal reports a target that is what the mirror promised.
func (r *Report) Equal() bool { return len(r.Differences) == 0 }

// Verifier compares restored pools with the mirror.
type Verifier struct {
	store  Mirror
	target Target
	stats  func() (int64, int64)
	log    *zap.Logger
	now    func() time.Time
}

// New returns a verifier. stats, if set, reports Cognito calls for the report.
func New(store Mirror, target Target, stats func() (int64, int64), log *zap.Logger) *Verifier {
	if log == nil {
		log = zap.NewNop()
	}
	return &Verifier{store: store, target: target, stats: stats, log: log, now: time.Now}
}

// expected is one mirrored user a restore brings back.
type expected struct {
	u      idmirror.User
	key    string
	target *idmirror.User // matched
}

// Run compares the target pool with the mirror. A target that differs is
// not an error: the report lists the differences (Report.Equal).
func (v *Verifier) Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.SourcePool == "" || opt.TargetPool == "" {
		return nil, fmt.Errorf("%w: verify needs a source and a target pool", idmirror.ErrInvalid)
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	asOf := opt.AsOf
	if asOf.IsZero() {
		asOf = v.now()
	}
	rep := &Report{SourcePool: opt.SourcePool, TargetPool: opt.TargetPool, AsOf: asOf, StartedAt: v.now(), Differences: []Difference{}}
	calls := cognito.Since(v.stats)
	defer func() {
		rep.FinishedAt = v.now()
		rep.Took = rep.FinishedAt.Sub(rep.StartedAt)
		rep.Calls, rep.Throttled = calls()
	}()

	src, _, err := v.store.PoolConfig(ctx, opt.SourcePool)
	if err != nil && !errors.Is(err, idmirror.ErrNotFound) {
		return rep, fmt.Errorf("read the source pool's configuration from the mirror: %w", err)
	}
	k := keyer{fold: !src.UsernamesCaseSensitive()}
	for _, a := range []string{"email", "phone_number"} {
		if contains(src.UsernameAttributes, a) {
			k.attrs = append(k.attrs, a)
		}
	}

	// The mirror's side: groups, then users as of the instant.
	want, err := v.groupsAsOf(ctx, opt.SourcePool, asOf)
	if err != nil {
		return rep, err
	}
	rep.Groups = len(want)
	bySub, byKey := map[string]*expected{}, map[string]*expected{}
	var notCarried []NotCarried
	var mu gosync.Mutex
	err = v.store.ExportUsers(ctx, opt.SourcePool, idmirror.ExportOptions{Segments: 4, AsOf: asOf}, func(rec idmirror.UserRecord) error {
		if rec.Deleted {
			return nil
		}
		u := rec.User
		mu.Lock()
		defer mu.Unlock()
		switch {
		case u.Status == cognito.StatusUnconfirmed:
			notCarried = append(notCarried, NotCarried{u.Username, "was UNCONFIRMED: never finished signing up; not restored"})
			return nil
		case u.Status == cognito.StatusExternalProvider:
			notCarried = append(notCarried, NotCarried{u.Username, "federated user: Cognito makes the account at its first sign-in through the identity provider"})
			return nil
		}
		if u.MFA.TOTPEnabled {
			notCarried = append(notCarried, NotCarried{u.Username, "TOTP MFA: secrets cannot be exported; the user enrols again"})
		}
		if u.Attributes["identities"] != "" {
			notCarried = append(notCarried, NotCarried{u.Username, "identity-provider link: Cognito alone writes identities; link it again"})
		}
		e := &expected{u: u, key: k.of(u)}
		if h := byKey[e.key]; h != nil {
			// Two live mirrored users with one sign-in name: restore keeps
			// the one Cognito created later (neither without both dates).
			if h.u.Created.IsZero() || u.Created.IsZero() {
				notCarried = append(notCarried, NotCarried{u.Username, "shares a sign-in name with another mirrored user and the mirror does not know which is newer"})
				return nil
			}
			if !u.Created.After(h.u.Created) {
				notCarried = append(notCarried, NotCarried{u.Username, "superseded by a newer account with its sign-in name"})
				return nil
			}
			notCarried = append(notCarried, NotCarried{h.u.Username, "superseded by a newer account with its sign-in name"})
			delete(bySub, h.u.Sub)
		}
		bySub[u.Sub], byKey[e.key] = e, e
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("read the mirror as of %s: %w", asOf.UTC().Format(time.RFC3339), err)
	}
	rep.Expected = len(bySub)

	// The target's side: its users, each matched to a mirrored one.
	var diffs []Difference
	origin := opt.SourcePool + "/"
	err = v.target.ListUsers(ctx, opt.TargetPool, func(t idmirror.User, _ time.Time) error {
		rep.Users++
		var e *expected
		rec, err := v.store.GetUser(ctx, opt.TargetPool, t.Sub)
		switch {
		case err == nil && strings.HasPrefix(rec.Origin, origin):
			e = bySub[strings.TrimPrefix(rec.Origin, origin)]
		case err != nil && !errors.Is(err, idmirror.ErrNotFound):
			return fmt.Errorf("read the mirror's link of target user %s: %w", t.Username, err)
		}
		if l := opt.LegacySubAttribute; e == nil && l != "" && t.Attributes[l] != "" {
			e = bySub[t.Attributes[l]]
		}
		if e == nil && opt.ByName {
			e = byKey[k.of(t)]
		}
		if e == nil || e.target != nil {
			diffs = append(diffs, Difference{Kind: UnexpectedUser, User: t.Username, Field: "sub", Got: t.Sub})
			return nil
		}
		tc := t
		e.target = &tc
		rep.Matched++
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("list the target's users: %w", err)
	}
	for _, e := range sorted(bySub) {
		if e.target == nil {
			diffs = append(diffs, Difference{Kind: MissingUser, User: e.u.Username, Field: "sub", Want: e.u.Sub})
			continue
		}
		diffs = append(diffs, compareUser(opt, e.u, *e.target)...)
		// The username is the sign-in name where the pool has no username
		// attributes: a restored user under another name (another case in
		// a case-sensitive pool) cannot sign in as before. Where users sign
		// in with email or phone, Cognito generates usernames, and the
		// attribute, compared above, is the sign-in name.
		if len(k.attrs) == 0 && e.u.Username != e.target.Username {
			diffs = append(diffs, Difference{Kind: UserField, User: e.u.Username, Field: "username", Want: e.u.Username, Got: e.target.Username})
		}
	}

	// Groups and their definitions.
	have, err := v.target.ListGroups(ctx, opt.TargetPool)
	if err != nil {
		return rep, fmt.Errorf("list the target's groups: %w", err)
	}
	haveByName := map[string]idmirror.Group{}
	for _, g := range have {
		haveByName[g.Name] = g
	}
	wantByName := map[string]bool{}
	for _, g := range want {
		wantByName[g.Name] = true
		tg, ok := haveByName[g.Name]
		if !ok {
			diffs = append(diffs, Difference{Kind: MissingGroup, Group: g.Name})
			continue
		}
		wf, hf := g.Fields(), tg.Fields()
		for _, f := range []string{"description", "precedence", "role_arn"} {
			if wf[f] != hf[f] {
				diffs = append(diffs, Difference{Kind: GroupField, Group: g.Name, Field: f, Want: wf[f], Got: hf[f]})
			}
		}
	}
	for _, g := range have {
		if !wantByName[g.Name] {
			diffs = append(diffs, Difference{Kind: UnexpectedGroup, Group: g.Name})
		}
	}

	// Memberships: the target's, one paged listing per group.
	byTarget := map[string]*expected{}
	for _, e := range bySub {
		if e.target != nil {
			byTarget[e.target.Username] = e
		}
	}
	members := map[string]map[string]bool{} // target username → groups
	for _, g := range have {
		err := v.target.GroupMembers(ctx, opt.TargetPool, g.Name, func(username string) error {
			if members[username] == nil {
				members[username] = map[string]bool{}
			}
			members[username][g.Name] = true
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("list the members of group %s: %w", g.Name, err)
		}
	}
	for _, e := range sorted(bySub) {
		wantGroups := map[string]bool{}
		for _, g := range e.u.Groups {
			if wantByName[g] {
				wantGroups[g] = true
				rep.Memberships++
			} else {
				notCarried = append(notCarried, NotCarried{e.u.Username, fmt.Sprintf("membership of group %s, which the mirror does not hold as of the instant", g)})
			}
		}
		if e.target == nil {
			continue
		}
		got := members[e.target.Username]
		for _, g := range sortedKeys(wantGroups) {
			if !got[g] {
				diffs = append(diffs, Difference{Kind: MissingMembership, User: e.u.Username, Group: g, Field: "groups"})
			}
		}
		for _, g := range sortedKeys(got) {
			if !wantGroups[g] {
				diffs = append(diffs, Difference{Kind: ExtraMembership, User: e.u.Username, Group: g, Field: "groups"})
			}
		}
	}
	for username, gs := range members {
		if byTarget[username] == nil {
			for _, g := range sortedKeys(gs) {
				diffs = append(diffs, Difference{Kind: ExtraMembership, User: username, Group: g, Field: "groups"})
			}
		}
	}

	if opt.Deep {
		d, err := v.deep(ctx, opt, sorted(bySub))
		if err != nil {
			return rep, err
		}
		diffs = append(diffs, d...)
	}
	sort.SliceStable(diffs, func(i, j int) bool {
		a, b := diffs[i], diffs[j]
		if a.User != b.User {
			return a.User < b.User
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Field < b.Field
	})
	rep.Differences = append(rep.Differences, diffs...)
	sort.Slice(notCarried, func(i, j int) bool {
		if notCarried[i].User != notCarried[j].User {
			return notCarried[i].User < notCarried[j].User
		}
		return notCarried[i].Reason < notCarried[j].Reason
	})
	rep.NotCarried = notCarried
	return rep, nil
}

// deep compares each matched user's SMS MFA preference (AdminGetUser).
func (v *Verifier) deep(ctx context.Context, opt Options, es []*expected) ([]Difference, error) {
	var mu gosync.Mutex
	var out []Difference
	err := workers.Run(ctx, opt.Concurrency, func(ctx context.Context, emit func(*expected) error) error {
		for _, e := range es {
			if e.target == nil {
				continue
			}
			if err := emit(e); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, e *expected) error {
		t, err := v.target.GetUser(ctx, opt.TargetPool, e.target.Username)
		if err != nil {
			return fmt.Errorf("read target user %s: %w", e.target.Username, err)
		}
		want, got := smsMFA(e.u.MFA), smsMFA(t.MFA)
		if want != got {
			mu.Lock()
			out = append(out, Difference{Kind: UserField, User: e.u.Username, Field: "sms_mfa", Want: want, Got: got})
			mu.Unlock()
		}
		return nil
	})
	return out, err
}

func smsMFA(m idmirror.MFA) string {
	switch {
	case m.SMSEnabled && m.Preferred == cognito.MFASMS:
		return "enabled,preferred"
	case m.SMSEnabled:
		return "enabled"
	case m.Preferred == cognito.MFASMS:
		return "preferred"
	}
	return "off"
}

// StatusClass is the class of a user status a restore can promise:
// CONFIRMED, FORCE_CHANGE_PASSWORD and RESET_REQUIRED are one (a restore
// cannot carry passwords, so which of them depends on the password mode);
// every other status is its own.
func StatusClass(status string) string {
	switch status {
	case cognito.StatusConfirmed, cognito.StatusForceChangePassword, cognito.StatusResetRequired:
		return "confirmed"
	case "":
		return "unknown"
	}
	return strings.ToLower(status)
}

// compareUser compares a mirrored user with the target's user restored from it.
func compareUser(opt Options, want, got idmirror.User) []Difference {
	var out []Difference
	d := func(field, w, g string) {
		if w != g {
			out = append(out, Difference{Kind: UserField, User: want.Username, Field: field, Want: w, Got: g})
		}
	}
	d("enabled", fmt.Sprint(want.Enabled), fmt.Sprint(got.Enabled))
	d("status", StatusClass(want.Status), StatusClass(got.Status))
	wa, ga := comparable(want.Attributes, opt, ""), comparable(got.Attributes, opt, want.Sub)
	for _, name := range sortedKeys(union(wa, ga)) {
		d(name, wa[name], ga[name])
	}
	return out
}

// comparable drops the attributes Cognito writes itself and, on the
// target, the legacy-sub attribute holding the old sub.
func comparable(attrs map[string]string, opt Options, oldSub string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if k == "sub" || k == "identities" || strings.HasPrefix(k, "cognito:") {
			continue
		}
		if oldSub != "" && k == opt.LegacySubAttribute && v == oldSub {
			continue
		}
		out[k] = v
	}
	return out
}

// keyer gives a user's sign-in name as the source pool compares names.
type keyer struct {
	fold  bool
	attrs []string // email, phone_number: the pool signs in with these
}

func (k keyer) of(u idmirror.User) string {
	key := "username:" + u.Username
	for _, a := range k.attrs {
		if v := u.Attributes[a]; v != "" {
			key = a + ":" + v
			break
		}
	}
	if k.fold {
		key = strings.ToLower(key)
	}
	return key
}

// groupsAsOf returns the source pool's live groups at the instant.
func (v *Verifier) groupsAsOf(ctx context.Context, pool string, t time.Time) ([]idmirror.Group, error) {
	recs, err := v.store.Groups(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("read the mirror's groups: %w", err)
	}
	var out []idmirror.Group
	for _, rec := range recs {
		g, err := v.store.GroupAsOf(ctx, pool, rec.Name, t)
		if errors.Is(err, idmirror.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read group %s from the mirror: %w", rec.Name, err)
		}
		if !g.Deleted {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func sorted(m map[string]*expected) []*expected {
	out := make([]*expected, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].u.Username < out[j].u.Username || out[i].u.Username == out[j].u.Username && out[i].u.Sub < out[j].u.Sub
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func union(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k := range a {
		out[k] = ""
	}
	for k := range b {
		out[k] = ""
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
