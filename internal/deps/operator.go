package deps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/idmirror/idmirror"
)

// OperatorTimeout bounds the STS call: the identity is recorded for the
// audit, it never holds a restore up.
const OperatorTimeout = 3 * time.Second

// Operator returns who runs a command, for the history it writes: STS
// GetCallerIdentity's ARN and user id, and a new run id. Best effort: when
// STS cannot be reached in OperatorTimeout (a machine without it, the local
// stack without AWS_ENDPOINT_URL_STS), the type says unknown and the run id
// still ties the run's changes together.
func Operator(ctx context.Context, cfg aws.Config) idmirror.Actor {
	a := idmirror.Actor{Type: idmirror.ActorRestore, RunID: RunID()}
	ctx, cancel := context.WithTimeout(ctx, OperatorTimeout)
	defer cancel()
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.RetryMaxAttempts = 1 }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		a.Detail = "operator unknown (STS GetCallerIdentity failed)"
		return a
	}
	a.ARN, a.PrincipalID = aws.ToString(out.Arn), aws.ToString(out.UserId)
	return a
}

// RunID is a random id for one run (16 hex digits).
func RunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
