// Package cognito is the user-pool adapter of idmirror: it pages Cognito's
// listings, translates its errors into idmirror's sentinels, and paces bulk
// work per request-rate quota category (the one table of operations and
// categories, which the local fidelity proxy uses too).
package cognito

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
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
