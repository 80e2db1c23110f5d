// Package deps builds, from one AWS config, what idmirror's mains run on:
// the Cognito adapter and the mirror store. The mains load the config (the
// CLI per command, the Lambdas at cold start) and hand it here; the packages
// they wire together never load one.
package deps

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror"
)

// Cognito returns the user-pool adapter: cognito.NewClient (throttles left
// to the pacer) and a pacer using share of Cognito's default rates (0: the
// pacer's default, half).
func Cognito(cfg aws.Config, share float64) *cognito.Pool {
	return cognito.NewPool(cognito.NewClient(cfg), cognito.NewPacer(cognito.PacerOptions{Share: share}))
}

// Mirror returns the mirror store on table.
func Mirror(cfg aws.Config, table string, log *zap.Logger) *mirror.Store {
	return mirror.New(mirror.NewClient(cfg), table, log)
}
