package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
)

// CloudTrailEvent is an EventBridge "AWS API Call via CloudTrail" event from
// aws.cognito-idp, reduced to what the refresher reads.
type CloudTrailEvent struct {
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
	Detail     struct {
		EventName           string         `json:"eventName"`
		EventSource         string         `json:"eventSource"`
		EventTime           time.Time      `json:"eventTime"`
		ErrorCode           string         `json:"errorCode"`
		RequestParameters   map[string]any `json:"requestParameters"`
		AdditionalEventData map[string]any `json:"additionalEventData"`
		Resources           []struct {
			ARN string `json:"ARN"`
		} `json:"resources"`
	} `json:"detail"`
}

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
		r.log.Warn("ignored: not a CloudTrail event", zap.Error(err))
		return Ignored, nil
	}
	d := ev.Detail
	log := r.log.With(zap.String("event", d.EventName), zap.Time("event_time", d.EventTime))
	switch {
	case ev.Source != "aws.cognito-idp" || ev.DetailType != "AWS API Call via CloudTrail":
		log.Info("ignored: not a Cognito API call", zap.String("source", ev.Source), zap.String("detail_type", ev.DetailType))
		return Ignored, nil
	case d.ErrorCode != "":
		log.Info("ignored: the call failed", zap.String("error_code", d.ErrorCode))
		return Ignored, nil
	case !r.ours(ev):
		log.Info("ignored: another pool")
		return Ignored, nil
	case userEvents[d.EventName]:
		sub := str(d.AdditionalEventData, "sub")
		if sub == "" {
			sub = str(d.RequestParameters, "sub")
		}
		if sub == "" {
			log.Warn("ignored: the event names no sub")
			return Ignored, nil
		}
		return r.refreshUser(ctx, log.With(zap.String("sub", sub)), sub, d.EventTime)
	case groupEvents[d.EventName]:
		name := str(d.RequestParameters, "groupName")
		if name == "" || name == Hidden {
			log.Warn("ignored: the event names no group")
			return Ignored, nil
		}
		return r.refreshGroup(ctx, log.With(zap.String("group", name)), name, d.EventTime)
	}
	log.Info("ignored: not an event that changes identities")
	return Ignored, nil
}

// ours decides whether an event concerns the refresher's pool: by pool id
// (request, additional data or resource ARN) or, for calls made with an
// access token, by app client id.
func (r *Refresher) ours(ev CloudTrailEvent) bool {
	d := ev.Detail
	for _, id := range []string{str(d.RequestParameters, "userPoolId"), str(d.AdditionalEventData, "userPoolId")} {
		if id != "" {
			return id == r.poolID
		}
	}
	for _, res := range d.Resources {
		if strings.HasSuffix(res.ARN, ":userpool/"+r.poolID) {
			return true
		}
	}
	for _, id := range []string{str(d.RequestParameters, "clientId"), str(d.AdditionalEventData, "clientId"), str(d.AdditionalEventData, "appClientId")} {
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

func (r *Refresher) refreshUser(ctx context.Context, log *zap.Logger, sub string, eventTime time.Time) (Outcome, error) {
	at := r.now()
	username, err := r.pool.FindBySub(ctx, r.poolID, sub)
	switch {
	case errors.Is(err, idmirror.ErrPoolNotFound):
		log.Error("the pool is gone: nothing tombstoned", zap.String("pool", r.poolID))
		return PoolMissing, nil
	case errors.Is(err, idmirror.ErrNotFound):
		o, err := r.store.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: r.poolID, Sub: sub}, Delete: true,
			At: at, Source: idmirror.SourceEvent, SourceTime: eventTime})
		if errors.Is(err, idmirror.ErrNotFound) {
			log.Info("user gone and never mirrored")
			return Unchanged, nil
		}
		if err != nil {
			return "", err
		}
		log.Info("user gone from the pool", zap.Stringer("outcome", o))
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
	o, err := r.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceEvent, SourceTime: eventTime})
	if err != nil {
		return "", err
	}
	log.Info("user refreshed", zap.Stringer("outcome", o))
	return outcomeOf(o, Refreshed), nil
}

func (r *Refresher) refreshGroup(ctx context.Context, log *zap.Logger, name string, eventTime time.Time) (Outcome, error) {
	at := r.now()
	g, err := r.pool.GetGroup(ctx, r.poolID, name)
	if errors.Is(err, idmirror.ErrNotFound) || errors.Is(err, idmirror.ErrPoolNotFound) {
		// Group gone, or the whole pool? Only a live pool may tombstone.
		if _, derr := r.pool.Describe(ctx, r.poolID); derr != nil {
			if errors.Is(derr, idmirror.ErrPoolNotFound) {
				log.Error("the pool is gone: nothing tombstoned", zap.String("pool", r.poolID))
				return PoolMissing, nil
			}
			return "", derr
		}
		o, err := r.store.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: r.poolID, Name: name}, Delete: true,
			At: at, Source: idmirror.SourceEvent, SourceTime: eventTime})
		if errors.Is(err, idmirror.ErrNotFound) {
			return Unchanged, nil
		}
		if err != nil {
			return "", err
		}
		// Cognito removed the group's members with it: refresh them.
		if err := r.refreshMembers(ctx, log, name, eventTime); err != nil {
			return "", err
		}
		return outcomeOf(o, Tombstoned), nil
	}
	if err != nil {
		return "", err
	}
	o, err := r.store.PutGroup(ctx, idmirror.GroupWrite{Group: g, At: at, Source: idmirror.SourceEvent, SourceTime: eventTime})
	if err != nil {
		return "", err
	}
	log.Info("group refreshed", zap.Stringer("outcome", o))
	return outcomeOf(o, Refreshed), nil
}

func (r *Refresher) refreshMembers(ctx context.Context, log *zap.Logger, group string, eventTime time.Time) error {
	members, err := r.store.Members(ctx, r.poolID, group, time.Time{})
	if err != nil {
		return err
	}
	for _, m := range members {
		if _, err := r.refreshUser(ctx, log.With(zap.String("sub", m.Sub)), m.Sub, eventTime); err != nil {
			return fmt.Errorf("refresh member %s of deleted group %s: %w", m.Sub, group, err)
		}
	}
	return nil
}

func outcomeOf(o idmirror.Outcome, changed Outcome) Outcome {
	if o == idmirror.Changed {
		return changed
	}
	return Unchanged
}

// SetClock replaces the clock that stamps the refresher's observations (tests).
func (r *Refresher) SetClock(now func() time.Time) { r.now = now }
