package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/redact"
)

// UserWriter is the part of the mirror the post-confirmation handler needs.
type UserWriter interface {
	PutUser(context.Context, idmirror.UserWrite) (idmirror.Outcome, error)
}

// Log field keys.
const (
	fieldRequestID     = "aws_request_id"
	fieldTriggerSource = "trigger_source"
	fieldPool          = "user_pool_id"
	fieldSub           = "sub"
	fieldEmail         = "email_masked"
	fieldOutcome       = "outcome"
)

// PostConfirmationOptions configures the handler.
type PostConfirmationOptions struct {
	// Budget bounds the mirror write with its retries (default 3 s, well
	// inside the 5 s Cognito waits for a trigger).
	Budget time.Duration
	// Strict fails the confirmation when the mirror write fails. By default
	// the failure is logged and counted, and the user is confirmed: sync
	// repairs the mirror.
	Strict bool
	// Metrics receives CloudWatch Embedded Metric Format lines (default stdout).
	Metrics io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// PostConfirmation mirrors each confirmed identity.
type PostConfirmation struct {
	store UserWriter
	log   *zap.Logger
	opt   PostConfirmationOptions
}

// NewPostConfirmation returns the handler.
func NewPostConfirmation(store UserWriter, log *zap.Logger, o PostConfirmationOptions) *PostConfirmation {
	if log == nil {
		log = zap.NewNop()
	}
	if o.Budget <= 0 {
		o.Budget = 3 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = os.Stdout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &PostConfirmation{store: store, log: log, opt: o}
}

type postConfirmationEvent struct {
	Version       string `json:"version"`
	TriggerSource string `json:"triggerSource"`
	UserPoolID    string `json:"userPoolId"`
	UserName      string `json:"userName"`
	CallerContext struct {
		ClientID string `json:"clientId"`
	} `json:"callerContext"`
	Request struct {
		UserAttributes map[string]string `json:"userAttributes"`
	} `json:"request"`
}

var postConfirmationSources = map[string]bool{
	"PostConfirmation_ConfirmSignUp":         true,
	"PostConfirmation_ConfirmForgotPassword": true,
}

// ParsePostConfirmation decodes and checks an event; the error names the problem.
func ParsePostConfirmation(raw []byte) (idmirror.User, string, error) {
	u, ev, err := parsePostConfirmation(raw)
	return u, ev.TriggerSource, err
}

func parsePostConfirmation(raw []byte) (idmirror.User, postConfirmationEvent, error) {
	var ev postConfirmationEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return idmirror.User{}, ev, fmt.Errorf("%w: post-confirmation event: %v", idmirror.ErrInvalid, err)
	}
	switch {
	case !postConfirmationSources[ev.TriggerSource]:
		return idmirror.User{}, ev, fmt.Errorf("%w: post-confirmation event: unknown trigger source %q", idmirror.ErrInvalid, ev.TriggerSource)
	case ev.UserPoolID == "":
		return idmirror.User{}, ev, fmt.Errorf("%w: post-confirmation event: missing userPoolId", idmirror.ErrInvalid)
	case ev.UserName == "":
		return idmirror.User{}, ev, fmt.Errorf("%w: post-confirmation event: missing userName", idmirror.ErrInvalid)
	case ev.Request.UserAttributes["sub"] == "":
		return idmirror.User{}, ev, fmt.Errorf("%w: post-confirmation event: missing request.userAttributes.sub", idmirror.ErrInvalid)
	}
	u := idmirror.User{PoolID: ev.UserPoolID, Sub: ev.Request.UserAttributes["sub"], Username: ev.UserName,
		Attributes: map[string]string{}, Status: "CONFIRMED"}
	for k, v := range ev.Request.UserAttributes {
		switch {
		case k == "sub":
		case k == "cognito:user_status":
			u.Status = v
		case strings.HasPrefix(k, "cognito:"): // aliases and other Cognito-internal entries
		default:
			u.Attributes[k] = v
		}
	}
	return u, ev, nil
}

// triggerActor is the actor of a post-confirmation write: the trigger
// source and the app client, as the event gives them. AWS documents two
// sources, PostConfirmation_ConfirmSignUp and
// PostConfirmation_ConfirmForgotPassword
// (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html);
// it does not document how an administrator's AdminConfirmSignUp shows:
// callerContext.clientId is "the ID of the user pool app client", and a
// call made without one carries none or CLIENT_ID_NOT_APPLICABLE (not
// documented; reported as "no app client: admin API or console", never as
// a user's own confirmation).
func triggerActor(ev postConfirmationEvent) idmirror.Actor {
	a := idmirror.Actor{Type: idmirror.ActorTrigger, ClientID: ev.CallerContext.ClientID}
	switch ev.TriggerSource {
	case "PostConfirmation_ConfirmForgotPassword":
		a.Detail = "forgotten-password confirmation"
	default:
		a.Detail = "sign-up confirmation"
	}
	if a.ClientID == "" || a.ClientID == "CLIENT_ID_NOT_APPLICABLE" {
		a.ClientID = ""
		a.Detail += " (no app client: admin API or console)"
	}
	return a
}

// Invoke mirrors the confirmed user and returns the event unchanged (the
// Lambda runtime's lambda.Handler).
func (h *PostConfirmation) Invoke(ctx context.Context, raw []byte) ([]byte, error) {
	at := h.opt.Now()
	u, ev, err := parsePostConfirmation(raw)
	source := ev.TriggerSource
	if err != nil {
		h.log.Error("rejected post-confirmation event", zap.Error(err))
		return nil, err
	}
	log := h.log.With(zap.String(fieldRequestID, requestID(ctx)), zap.String(fieldTriggerSource, source),
		zap.String(fieldPool, u.PoolID), zap.String(fieldSub, u.Sub), zap.String(fieldEmail, redact.Email(u.Email())))

	wctx, cancel := context.WithTimeout(ctx, h.opt.Budget)
	defer cancel()
	// The event carries the user's attributes and status (AWS: "The request
	// contains the current attributes for the confirmed user",
	// https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html),
	// nothing of its groups, and AWS does not say that a disabled user cannot
	// be confirmed (AdminConfirmSignUp): groups and enabled come from
	// Cognito's own answers (the reconcile, the CloudTrail refresh). An admin
	// may have added an UNCONFIRMED user to a group already.
	fields := idmirror.FieldAttributes | idmirror.FieldStatus | idmirror.FieldExists
	w := idmirror.UserWrite{User: u, Fields: fields, At: at, Source: idmirror.SourceTrigger, Actor: triggerActor(ev)}
	outcome, err := h.write(wctx, w)
	if err != nil {
		log.Error("mirror write failed; sync will repair it", zap.Error(err), zap.Bool("strict", h.opt.Strict))
		h.metric("MirrorWriteFailures")
		if h.opt.Strict {
			return nil, fmt.Errorf("mirror the confirmed user: %w", err)
		}
		return raw, nil
	}
	log.Info("mirrored confirmed user", zap.Stringer(fieldOutcome, outcome))
	return raw, nil
}

// write retries transient failures until the budget is spent.
func (h *PostConfirmation) write(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error) {
	backoff := 25 * time.Millisecond
	for {
		o, err := h.store.PutUser(ctx, w)
		if err == nil || errors.Is(err, idmirror.ErrInvalid) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 400*time.Millisecond)
	}
}

// metric writes one CloudWatch Embedded Metric Format line.
func (h *PostConfirmation) metric(name string) {
	line, _ := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": h.opt.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "idmirror",
				"Dimensions": [][]string{{"Function"}},
				"Metrics":    []any{map[string]string{"Name": name, "Unit": "Count"}},
			}},
		},
		"Function": "post-confirmation",
		name:       1,
	})
	_, _ = fmt.Fprintln(h.opt.Metrics, string(line))
}
