// Package cognito is the user-pool adapter of idmirror: it pages Cognito's
// listings, translates its errors into idmirror's sentinels, and paces bulk
// work per request-rate quota category (the one table of operations and
// categories, which the local fidelity proxy uses too).
package cognito

import (
	"context"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/smithy-go/middleware"
)

// NewClient returns the Cognito client idmirror uses, from the SDK's
// standard configuration. Its retryer has no client-side retry token
// bucket: the SDK's default bucket empties under sustained throttling and
// then fails calls without sending them, which would abort a long restore.
// Throttling is handled by the Pacer instead (it never gives up on
// throttling alone); the SDK still retries other transient errors. Use it
// with a Pacer: on its own it does not retry throttled calls.
func NewClient(cfg aws.Config, optFns ...func(*cip.Options)) *cip.Client {
	return cip.NewFromConfig(cfg, append([]func(*cip.Options){func(o *cip.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.RateLimiter = ratelimit.None
			so.MaxAttempts = 3
			// Throttles are the Pacer's: retrying them here too would
			// multiply the calls a throttled category receives.
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if IsThrottle(err) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			})}, so.Retryables...)
		})
	}}, optFns...)...)
}

// paced returns the per-call option every call of the adapter carries: it
// adds pace to the operation's middleware stack, so plain calls and the
// SDK's paginators go through the pacer alike. A non-nil sent receives the
// time the answered attempt was sent.
func (p *Pool) paced(poolID string, sent *time.Time) func(*cip.Options) {
	return func(o *cip.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(pace{pacer: p.pacer, pool: poolID, sent: sent}, middleware.After)
		})
	}
}

// pace runs the rest of an operation's stack through the Pacer, under the
// operation's name (its quota category) and, for a call on one user, the
// input's Username (its per-user quota). It sits last in the Initialize
// step: after input validation (an invalid call takes no quota) and before
// serialization and the SDK's retry loop (Finalize), so each attempt the
// pacer makes is a fresh request through that loop, and a throttled attempt
// (which NewClient's retryer does not retry) comes straight back here.
type pace struct {
	pacer *Pacer
	pool  string
	sent  *time.Time
}

func (pace) ID() string { return "idmirror.Pace" }

func (m pace) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	out middleware.InitializeOutput, md middleware.Metadata, err error,
) {
	err = m.pacer.DoUser(ctx, middleware.GetOperationName(ctx), m.pool, username(in.Parameters), func(ctx context.Context) error {
		if m.sent != nil {
			*m.sent = time.Now()
		}
		var err error
		out, md, err = next.HandleInitialize(ctx, in)
		return err
	})
	return out, md, err
}

// username returns the Username of an SDK input (every Admin* call on one
// user has that field), or "" for an input without one.
func username(input any) string {
	v := reflect.ValueOf(input)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	if f := v.Elem().FieldByName("Username"); f.IsValid() {
		if s, ok := f.Interface().(*string); ok && s != nil {
			return *s
		}
	}
	return ""
}
