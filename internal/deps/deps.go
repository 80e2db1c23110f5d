// Package deps builds, from one AWS config, what idmirror's mains run on:
// the Cognito adapter and the mirror store. The mains load the config (the
// CLI per command, the Lambdas at cold start) and hand it here; the packages
// they wire together never load one.
package deps

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/lambdamain"
	"github.com/idmirror/idmirror/mirror"
)

// Cognito returns the user-pool adapter: cognito.NewClient (throttles left
// to the pacer) and a pacer using share of Cognito's default rates (0: the
// pacer's default, half).
func Cognito(cfg aws.Config, share float64, rates map[cognito.Category]float64) *cognito.Pool {
	return cognito.NewPool(cognito.NewClient(cfg), cognito.NewPacer(cognito.PacerOptions{Share: share, Rates: rates}))
}

// Mirror returns the mirror store on table.
func Mirror(cfg aws.Config, table string, log *zap.Logger) *mirror.Store {
	return mirror.New(mirror.NewClient(cfg), table, log)
}

// Rates reads an account's own quota rates from the environment variable
// name ("UserRead=240,UserCreation=100"; see cognito.ParseRates) for the
// Lambda mains; nil when unset. A bad value fails the cold start with a
// message naming it.
func Rates(log *zap.Logger, name string) map[cognito.Category]float64 {
	s := os.Getenv(name)
	if s == "" {
		return nil
	}
	rates, err := cognito.ParseRates([]string{s})
	if err != nil {
		lambdamain.Fail(log, name, err)
	}
	log.Info("rates in force", zap.String("rates", cognito.DescribeRates(rates, 0)))
	return rates
}
