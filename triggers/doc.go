// Package triggers holds the Lambda handlers Cognito calls: PostConfirmation
// mirrors each confirmed identity into the mirror table; PreToken adds role
// claims (and, for V2/V3 events, scopes) derived from the user's groups.
//
// Both implement lambda.Handler: Invoke takes the raw event and returns it
// with its response, so they run unchanged under lambda.Start and in tests
// through lambda.NewHandler(h).Invoke (or h.Invoke itself).
package triggers

import (
	"context"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
