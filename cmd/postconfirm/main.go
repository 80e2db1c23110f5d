// Command postconfirm is the post-confirmation Lambda: it mirrors each
// confirmed identity (see triggers.PostConfirmation).
//
// Environment: MIRROR_TABLE (required) — the mirror table; STRICT=true to
// fail the confirmation when the mirror write fails (default: log, count,
// and let sync repair). AWS access uses the SDK's standard configuration.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/internal/lambdamain"
	"github.com/idmirror/idmirror/triggers"
)

func main() {
	start := time.Now()
	log := lambdamain.Logger("postconfirm")
	table := lambdamain.Require(log, "MIRROR_TABLE", "name the mirror table")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		lambdamain.Fail(log, "AWS config", err)
	}
	h := triggers.NewPostConfirmation(deps.Mirror(cfg, table, log), log, triggers.PostConfirmationOptions{Strict: os.Getenv("STRICT") == "true"})
	log.Info("ready", zap.Duration("init", time.Since(start)), zap.String("table", table))
	lambda.Start(h)
}
