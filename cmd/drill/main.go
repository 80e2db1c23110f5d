// Command drill is the scheduled restore drill (see package drill): it
// restores the mirror of the identity stack's pool into a tagged scratch
// pool, verifies it, deletes it, and publishes DrillSucceeded,
// DrillDifferences and DrillSeconds (CloudWatch Embedded Metric Format,
// namespace idmirror, dimension Function=drill). The invocation fails when
// the drill does, so the alarm on the function's errors fires too.
//
// Environment: POOL_ID, MIRROR_TABLE (required); SAMPLE (default
// DefaultSample: pools larger than that are drilled on a random sample, to
// fit Lambda's 15 minutes); DEEP=false skips the SMS MFA comparison;
// QUOTA_SHARE (default 0.5); RATES (the account's raised rates).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/drill"
	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/internal/lambdamain"
	"github.com/idmirror/idmirror/security"
)

// DefaultSample: pools larger than drill.LambdaSample are drilled on a
// sample of that many users (the computation is there).
const DefaultSample = drill.LambdaSample

// cleanupReserve is the time kept back from the drill for deleting the
// scratch pool before Lambda's deadline.
const cleanupReserve = 60 * time.Second

func main() {
	start := time.Now()
	log := lambdamain.Logger("drill")
	pool := lambdamain.Require(log, "POOL_ID", "the user pool to drill")
	table := lambdamain.Require(log, "MIRROR_TABLE", "the mirror table")
	// The Lambda runs 15 minutes at most: its pool is a leftover after 20.
	opt := drill.Options{SourcePool: pool, Sample: DefaultSample, Deep: os.Getenv("DEEP") != "false", Lease: 20 * time.Minute}
	if s := os.Getenv("SAMPLE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			lambdamain.Fail(log, "SAMPLE", fmt.Errorf("%q: want 0 (every user) or a number of users", s))
		}
		opt.Sample = n
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		lambdamain.Fail(log, "AWS config", err)
	}
	adapter := deps.Cognito(cfg, lambdamain.Share(log, "QUOTA_SHARE"), deps.Rates(log, "RATES"))
	d := drill.New(deps.Mirror(cfg, table, log), adapter, adapter.Pacer().Stats, security.New(log, os.Stdout, "drill"), log)
	log.Info("ready", zap.Duration("init", time.Since(start)), zap.String(lambdamain.FieldPool, pool), zap.Int("sample", opt.Sample))
	lambda.Start(func(ctx context.Context) error {
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl.Add(-cleanupReserve))
			defer cancel()
		}
		rep, err := d.Run(ctx, opt)
		publish(os.Stdout, rep, err, time.Now())
		if rep != nil {
			log.Info("drilled", zap.String(lambdamain.FieldPool, pool), zap.String("scratch_pool", rep.ScratchPool),
				zap.Int("sampled", rep.Sampled), zap.Int("restored", rep.UsersRestored), zap.Int("memberships", rep.MembershipsRestored),
				zap.Int("differences", rep.Differences), zap.Duration("wall", rep.WallTime), zap.Duration("rto", rep.RTO),
				zap.Duration("rpo", rep.RPO.Estimate), zap.Int("unmirrored_users", rep.RPO.UnmirroredUsers), zap.Any("phases", rep.Phases), zap.Error(err))
			if rep.Verify != nil {
				for i, df := range rep.Verify.Differences {
					if i == 50 {
						break
					}
					log.Warn("drill difference", zap.String("kind", df.Kind), zap.String("user", df.User), zap.String("group", df.Group), zap.String("field", df.Field))
				}
			}
		}
		return err
	})
}

// Metric names: the alarm in deploy/aws/identity.yaml watches DrillSucceeded.
const (
	Namespace = "idmirror"
	Dimension = "Function"
)

// publish writes the drill's metrics as one EMF line.
func publish(w io.Writer, rep *drill.Report, err error, at time.Time) {
	ok, diffs, secs := 0, 0, 0.0
	if err == nil {
		ok = 1
	}
	if rep != nil {
		diffs, secs = rep.Differences, rep.WallTime.Seconds()
	}
	line, _ := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{Dimension}},
				"Metrics": []map[string]string{{"Name": "DrillSucceeded", "Unit": "Count"}, {"Name": "DrillDifferences", "Unit": "Count"},
					{"Name": "DrillSeconds", "Unit": "Seconds"}},
			}},
		},
		Dimension:          "drill",
		"DrillSucceeded":   ok,
		"DrillDifferences": diffs,
		"DrillSeconds":     secs,
	})
	fmt.Fprintln(w, string(line))
}
