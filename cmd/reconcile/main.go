// Command reconcile is the scheduled sync Lambda: a full reconcile of one
// pool against the mirror, with repair (see sync.Reconciler).
//
// Environment: POOL_ID, MIRROR_TABLE (required); REPAIR=false to only
// report; DEEP=true to read MFA with AdminGetUser; MAX_TOMBSTONE_SHARE
// (default 0.2); ROLE_MAP (JSON, default admin/operator) is recorded in the
// mirror. The invocation fails (so an alarm on Errors fires) when the pool
// is gone or the safety valve held tombstones back.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/internal/lambdamain"
	"github.com/idmirror/idmirror/security"
	idsync "github.com/idmirror/idmirror/sync"
)

func main() {
	start := time.Now()
	log := lambdamain.Logger("reconcile")
	pool := lambdamain.Require(log, "POOL_ID", "the user pool to reconcile")
	table := lambdamain.Require(log, "MIRROR_TABLE", "the mirror table")
	roles := lambdamain.RoleMap(log)
	opt := idsync.Options{Repair: os.Getenv("REPAIR") != "false", Deep: os.Getenv("DEEP") == "true", RoleMap: &roles}
	if s := os.Getenv("MAX_TOMBSTONE_SHARE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 || v > 1 {
			lambdamain.Fail(log, "MAX_TOMBSTONE_SHARE", fmt.Errorf("%q: want a number above 0, at most 1", s))
		}
		opt.MaxTombstoneShare = v
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		lambdamain.Fail(log, "AWS config", err)
	}
	adapter := deps.Cognito(cfg, 0, deps.Rates(log, "RATES"))
	store := deps.Mirror(cfg, table, log)
	alerts := security.New(log, os.Stdout, "reconcile")
	store.Observe(security.Watch(alerts, roles))
	r := idsync.NewReconciler(adapter, store, log, adapter.Pacer().Stats, opt)
	log.Info("ready", zap.Duration("init", time.Since(start)), zap.String(lambdamain.FieldPool, pool), zap.Bool("repair", opt.Repair))
	lambda.Start(func(ctx context.Context) error {
		rep, err := r.Run(ctx, pool)
		log.Info("reconciled", zap.String(lambdamain.FieldPool, pool), zap.Int("users", rep.Users), zap.Int("drift", len(rep.Drift)),
			zap.Int("repaired", rep.Repaired), zap.Int64("cognito_calls", rep.Calls), zap.Int64("throttled", rep.Throttled),
			zap.Duration("took", rep.FinishedAt.Sub(rep.StartedAt)), zap.String("refused", rep.Refused), zap.Error(err))
		idsync.Alert(alerts, os.Stdout, rep)
		return err
	})
}
