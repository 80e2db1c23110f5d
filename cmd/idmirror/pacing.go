package main

import (
	"flag"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/deps"
)

// pacing is the --quota-share and --rate flags of every command that calls
// Cognito in bulk.
type pacing struct {
	share *float64
	specs stringList
	rates map[cognito.Category]float64
}

func pacingFlags(fs *flag.FlagSet) *pacing {
	p := &pacing{share: fs.Float64("quota-share", 0.5, "share of the account's request rates to use (the rest is left to production)")}
	fs.Var(&p.specs, "rate", "the account's own rate for a quota category it raised, CATEGORY=RPS (repeatable; default: AWS's defaults)")
	return p
}

// parse checks the --rate values once the flags are parsed.
func (p *pacing) parse() error {
	rates, err := cognito.ParseRates(p.specs)
	if err != nil {
		return usageError{err.Error()}
	}
	p.rates = rates
	return nil
}

// adapter prints the rates in force and returns the paced Cognito adapter.
func (p *pacing) adapter(a *app, cfg aws.Config) *cognito.Pool {
	fmt.Fprintln(a.stderr, cognito.DescribeRates(ratesOrDefault(p.rates), *p.share))
	return deps.Cognito(cfg, *p.share, p.rates)
}

func ratesOrDefault(r map[cognito.Category]float64) map[cognito.Category]float64 {
	if r == nil {
		return cognito.DefaultRates
	}
	return r
}
