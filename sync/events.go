package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/workers"
)

// CloudTrailEvent is an EventBridge "AWS API Call via CloudTrail" event from
// aws.cognito-idp, reduced to what the refresher reads. The detail is decoded
// loosely (any JSON), so an event of this pool with a field of an unexpected
// type is recognised as ours and refused with an error, not dropped.
type CloudTrailEvent struct {
	DetailType string         `json:"detail-type"`
	Source     string         `json:"source"`
	Detail     map[string]any `json:"detail"`
}

func (ev CloudTrailEvent) detail(k string) string { return str(ev.Detail, k) }

func (ev CloudTrailEvent) params(k string) map[string]any {
	m, _ := ev.Detail[k].(map[string]any)
	return m
}

// ErrUnprocessable: an event of this pool (or one that cannot be told apart
// from one) that the refresher cannot apply. Returned so that Lambda retries
// it and then parks it in the dead-letter queue: nothing is lost silently.
var ErrUnprocessable = errors.New("event cannot be applied")

// The events the refresher acts on. User events are resolved by the sub
// CloudTrail records (usernames are hidden); group events by group name.
var (
	userEvents = map[string]bool{
		"AdminCreateUser": true, "AdminDeleteUser": true, "DeleteUser": true,
		"AdminUpdateUserAttributes": true, "UpdateUserAttributes": true,
		"AdminDeleteUserAttributes": true, "DeleteUserAttributes": true,
		"AdminDisableUser": true, "AdminEnableUser": true,
		"AdminAddUserToGroup": true, "AdminRemoveUserFromGroup": true,
		"AdminSetUserMFAPreference": true, "SetUserMFAPreference": true,
		// Added: they change status or verified flags.
		"AdminConfirmSignUp": true, "AdminSetUserPassword": true, "AdminResetUserPassword": true,
		"VerifyUserAttribute": true, "AdminLinkProviderForUser": true, "AdminDisableProviderForUser": true,
		// A token-less client call, known by its app client id (like the
		// other client-side calls); the post-confirmation trigger sees it too.
		"ConfirmSignUp": true,
	}
	groupEvents = map[string]bool{"CreateGroup": true, "UpdateGroup": true, "DeleteGroup": true}
)

// Hidden is what CloudTrail writes in place of sensitive request fields.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// Refresher turns CloudTrail events of one pool into mirror refreshes: it
// re-reads the user or group from Cognito (the event only says what was
// touched) and writes only what changed. Re-reading makes late, repeated and
// reordered events harmless: each write carries the time of its own read.
type Refresher struct {
	pool      PoolReader
	store     Mirror
	log       *zap.Logger
	poolID    string
	clientIDs map[string]bool
	now       func() time.Time
}

// NewRefresher handles events of poolID, and of calls made with access tokens
// of the app clients listed (those carry no pool id).
func NewRefresher(pool PoolReader, store Mirror, log *zap.Logger, poolID string, clientIDs []string) *Refresher {
	if log == nil {
		log = zap.NewNop()
	}
	ids := map[string]bool{}
	for _, c := range clientIDs {
		if c != "" {
			ids[c] = true
		}
	}
	return &Refresher{pool: pool, store: store, log: log, poolID: poolID, clientIDs: ids, now: time.Now}
}

// Outcome of one event, for logs and tests.
type Outcome string

// Outcomes.
const (
	Ignored     Outcome = "ignored"
	Refreshed   Outcome = "refreshed"
	Tombstoned  Outcome = "tombstoned"
	Unchanged   Outcome = "unchanged"
	PoolMissing Outcome = "pool-missing"
)

// Handle processes one event. Bad or unrelated events are ignored with a
// log line; an error means a transient failure worth a retry.
func (r *Refresher) Handle(ctx context.Context, raw []byte) (Outcome, error) {
	var ev CloudTrailEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		r.log.Error("not a CloudTrail event", zap.Error(err))
		return "", fmt.Errorf("%w: not an EventBridge event: %v", ErrUnprocessable, err)
	}
	name := ev.detail("eventName")
	log := r.log.With(zap.String("event", name), zap.String("event_id", ev.detail("eventID")))
	switch {
	case ev.Source != "aws.cognito-idp" || ev.DetailType != "AWS API Call via CloudTrail":
		log.Info("ignored: not a Cognito API call", zap.String("source", ev.Source), zap.String("detail_type", ev.DetailType))
		return Ignored, nil
	case ev.detail("errorCode") != "":
		log.Info("ignored: the call failed", zap.String("error_code", ev.detail("errorCode")))
		return Ignored, nil
	case !r.ours(ev):
		log.Info("ignored: another pool")
		return Ignored, nil
	case !userEvents[name] && !groupEvents[name]:
		log.Info("ignored: not an event that changes identities")
		return Ignored, nil
	}
	// Ours and about identities: from here on, what cannot be applied is an error.
	refuse := func(why string) (Outcome, error) {
		log.Error("event cannot be applied", zap.String("why", why))
		return "", fmt.Errorf("%w: %s %s: %s", ErrUnprocessable, name, ev.detail("eventID"), why)
	}
	eventTime, err := time.Parse(time.RFC3339, ev.detail("eventTime"))
	if err != nil {
		return refuse("no eventTime in RFC 3339")
	}
	log = log.With(zap.Time("event_time", eventTime))
	c := call{name: name, at: eventTime, actor: actorOf(ev), scope: scopeOf(name), group: str(ev.params("requestParameters"), "groupName")}
	c.explain, c.explainable = explanationOf(ev, name)
	if userEvents[name] {
		sub := str(ev.params("additionalEventData"), "sub")
		if sub == "" {
			sub = str(ev.params("requestParameters"), "sub")
		}
		if sub == "" || sub == Hidden {
			return refuse("the event names no sub")
		}
		c.explain.PoolID, c.explain.Key = r.poolID, sub
		return r.refreshUser(ctx, log.With(zap.String("sub", sub)), sub, c)
	}
	group := str(ev.params("requestParameters"), "groupName")
	if group == "" || group == Hidden {
		return refuse("the event names no group")
	}
	c.explain.PoolID, c.explain.Key = r.poolID, group
	return r.refreshGroup(ctx, log.With(zap.String("group", group)), group, c)
}

// ours decides whether an event concerns the refresher's pool: by pool id
// (request, additional data or resource ARN) or, for calls made with an
// access token, by app client id.
func (r *Refresher) ours(ev CloudTrailEvent) bool {
	req, extra := ev.params("requestParameters"), ev.params("additionalEventData")
	for _, id := range []string{str(req, "userPoolId"), str(extra, "userPoolId")} {
		if id != "" {
			return id == r.poolID
		}
	}
	resources, _ := ev.Detail["resources"].([]any)
	for _, res := range resources {
		if m, ok := res.(map[string]any); ok && strings.HasSuffix(str(m, "ARN"), ":userpool/"+r.poolID) {
			return true
		}
	}
	for _, id := range []string{str(req, "clientId"), str(extra, "clientId"), str(extra, "appClientId")} {
		if id != "" && r.clientIDs[id] {
			return true
		}
	}
	return false
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// call is what the refresher knows of the API call behind an event.
type call struct {
	name        string
	scope       idmirror.Fields // what the call changes (scopeOf)
	group       string          // AdminAddUserToGroup's group
	at          time.Time       // CloudTrail's eventTime
	actor       idmirror.Actor
	explain     idmirror.Explanation // the change the call makes, for a late event
	explainable bool
}

// explainLate attaches the call's actor to the change the mirror already
// recorded (found first by the reconcile), when the refresh itself changed
// nothing: the event is matched to the history item it explains.
func (r *Refresher) explainLate(ctx context.Context, log *zap.Logger, c call) error {
	if !c.explainable {
		return nil
	}
	e := c.explain
	e.Since, e.Until = c.at.Add(-SkewAllowance), c.at.Add(MaxExplainDelay)
	e.Settled = c.at.Add(time.Second + SkewAllowance) // eventTime has whole seconds
	ok, err := r.store.ExplainChange(ctx, e)
	if err != nil {
		return err
	}
	if ok {
		log.Info("late event explained a recorded change", zap.String("field", e.Field))
	}
	return nil
}

func (r *Refresher) refreshUser(ctx context.Context, log *zap.Logger, sub string, c call) (Outcome, error) {
	eventTime := c.at
	at := r.now()
	username, err := r.pool.FindBySub(ctx, r.poolID, sub)
	switch {
	case errors.Is(err, idmirror.ErrPoolNotFound):
		log.Error("the pool is gone: nothing tombstoned", zap.String("user_pool_id", r.poolID))
		return PoolMissing, nil
	case errors.Is(err, idmirror.ErrNotFound):
		// ListUsers is eventually consistent: confirm with AdminGetUser by
		// the mirrored username before tombstoning.
		rec, rerr := r.store.GetUser(ctx, r.poolID, sub)
		switch {
		case rerr == nil:
			if cerr := confirmUser(ctx, r.pool, r.poolID, rec); cerr == nil {
				return Unchanged, nil // there after all: the next event or reconcile mirrors it
			} else if !errors.Is(cerr, idmirror.ErrNotFound) {
				return "", cerr
			}
		case !errors.Is(rerr, idmirror.ErrNotFound):
			return "", rerr // cannot confirm the absence: retry, never tombstone on a guess
		}
		o, err := r.store.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: r.poolID, Sub: sub}, Delete: true,
			At: at, Source: idmirror.SourceEvent, SourceTime: eventTime, Actor: c.actor})
		if errors.Is(err, idmirror.ErrNotFound) {
			log.Info("user gone and never mirrored")
			return Unchanged, nil
		}
		if err != nil {
			return "", err
		}
		log.Info("user gone from the pool", zap.Stringer("outcome", o))
		if o != idmirror.Changed {
			if err := r.explainLate(ctx, log, c); err != nil {
				return "", err
			}
		}
		return outcomeOf(o, Tombstoned), nil
	case err != nil:
		return "", err
	}
	u, err := r.pool.GetUser(ctx, r.poolID, username)
	if errors.Is(err, idmirror.ErrNotFound) { // deleted between the two reads: the next event tombstones it
		return Unchanged, nil
	}
	if err != nil {
		return "", err
	}
	u.Sub = sub
	// The read is the whole user; the call made only its own part. What
	// else changed is recorded first, as observed (a late event may explain
	// it), then the call's part with its caller — so a refresh never
	// credits one caller with another's change.
	o := idmirror.Unchanged
	if rest := idmirror.AllFields &^ c.scope; rest != 0 {
		if o, err = r.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: rest, At: at, Source: idmirror.SourceEvent, SourceTime: eventTime,
			Actor: observedActor(c.name)}); err != nil {
			return "", err
		}
	}
	if c.scope != 0 {
		group := ""
		if c.name == "AdminAddUserToGroup" {
			group = c.group
		}
		own, err := r.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: c.scope, At: at, Source: idmirror.SourceEvent, SourceTime: eventTime,
			Actor: c.actor, ActorGroup: group})
		if err != nil {
			return "", err
		}
		if own != idmirror.Changed {
			if err := r.explainLate(ctx, log, c); err != nil {
				return "", err
			}
		} else {
			o = idmirror.Changed
		}
	}
	// A membership of a group the mirror has no definition of (created since
	// the last reconcile): mirror the group too, so a restore can make it.
	for _, g := range u.Groups {
		if _, err := r.store.GetGroup(ctx, r.poolID, g); errors.Is(err, idmirror.ErrNotFound) {
			// Not this call's doing: the group's creation has its own event.
			if _, err := r.refreshGroup(ctx, log.With(zap.String("group", g)), g, call{at: eventTime}); err != nil {
				return "", err
			}
		} else if err != nil {
			return "", err
		}
	}
	log.Info("user refreshed", zap.Stringer("outcome", o))
	return outcomeOf(o, Refreshed), nil
}

func (r *Refresher) refreshGroup(ctx context.Context, log *zap.Logger, name string, c call) (Outcome, error) {
	eventTime := c.at
	at := r.now()
	g, err := r.pool.GetGroup(ctx, r.poolID, name)
	if errors.Is(err, idmirror.ErrNotFound) || errors.Is(err, idmirror.ErrPoolNotFound) {
		// Group gone, or the whole pool? Only a live pool may tombstone.
		if _, derr := r.pool.Describe(ctx, r.poolID); derr != nil {
			if errors.Is(derr, idmirror.ErrPoolNotFound) {
				log.Error("the pool is gone: nothing tombstoned", zap.String("user_pool_id", r.poolID))
				return PoolMissing, nil
			}
			return "", derr
		}
		// The tombstone keeps the last known definition, as users' do.
		last, err := r.store.GetGroup(ctx, r.poolID, name)
		if errors.Is(err, idmirror.ErrNotFound) {
			return Unchanged, nil
		}
		if err != nil {
			return "", err
		}
		o, err := r.store.PutGroup(ctx, idmirror.GroupWrite{Group: last.Group, Delete: true, At: at, Source: idmirror.SourceEvent, SourceTime: eventTime, Actor: c.actor})
		if err != nil {
			return "", err
		}
		// Cognito removed the group's members with it: the deletion is the
		// observation of that, so no member is read again.
		if err := r.leaveDeletedGroup(ctx, name, at, c); err != nil {
			return "", err
		}
		if o != idmirror.Changed {
			if err := r.explainLate(ctx, log, c); err != nil {
				return "", err
			}
		}
		return outcomeOf(o, Tombstoned), nil
	}
	if err != nil {
		return "", err
	}
	o, err := r.store.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at, Source: idmirror.SourceEvent, SourceTime: eventTime, Actor: c.actor})
	if err != nil {
		return "", err
	}
	if o != idmirror.Changed {
		if err := r.explainLate(ctx, log, c); err != nil {
			return "", err
		}
	}
	log.Info("group refreshed", zap.Stringer("outcome", o))
	return outcomeOf(o, Refreshed), nil
}

// leaveDeletedGroup takes a deleted group out of its mirrored members'
// groups, at the time the deletion was observed, a few users at a time. A
// member whose groups were observed later keeps them (the write is stale).
func (r *Refresher) leaveDeletedGroup(ctx context.Context, group string, at time.Time, c call) error {
	eventTime := c.at
	members, err := r.store.Members(ctx, r.poolID, group, time.Time{})
	if err != nil {
		return err
	}
	return workers.Run(ctx, 8, func(ctx context.Context, emit func(string) error) error {
		for _, m := range members {
			if err := emit(m.Sub); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, sub string) error {
		// A read-modify-write of the member's groups, guarded by the version
		// read: a concurrent writer (another refresh that read Cognito) wins
		// and this one recomputes from what it wrote, so the other groups are
		// never written back stale.
		for range 5 {
			rec, err := r.store.GetUser(ctx, r.poolID, sub)
			if err != nil {
				return fmt.Errorf("member %s of deleted group %s: %w", sub, group, err)
			}
			if !slices.Contains(rec.Groups, group) || !rec.Clocks["groups"].Before(at) {
				return nil // already out, or observed after the deletion
			}
			u := rec.User
			u.Groups = slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return g == group })
			o, err := r.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at, Source: idmirror.SourceEvent,
				SourceTime: eventTime, IfVersion: rec.Version, Actor: c.actor})
			if err != nil {
				return fmt.Errorf("member %s of deleted group %s: %w", sub, group, err)
			}
			if o != idmirror.Stale {
				return nil
			}
		}
		return fmt.Errorf("member %s of deleted group %s: %w", sub, group, idmirror.ErrConflict)
	})
}

func outcomeOf(o idmirror.Outcome, changed Outcome) Outcome {
	if o == idmirror.Changed {
		return changed
	}
	return Unchanged
}

// SetClock replaces the clock that stamps the refresher's observations (tests).
func (r *Refresher) SetClock(now func() time.Time) { r.now = now }
