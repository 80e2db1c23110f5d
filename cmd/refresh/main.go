// Command refresh is the event-driven sync Lambda: EventBridge "AWS API Call
// via CloudTrail" events from aws.cognito-idp (see sync.Refresher).
//
// Environment: POOL_ID, MIRROR_TABLE (required); APP_CLIENT_IDS (comma
// separated) for calls made with users' access tokens, which carry no pool id;
// QUOTA_SHARE, the share of Cognito's default rates this instance paces at
// (the template divides half of them among its reserved concurrency).
// Events of other pools and other APIs are logged and dropped; an event of
// this pool it cannot apply, or a failure to reach Cognito or DynamoDB, fails
// the invocation, so Lambda retries it and then parks it in the dead-letter queue.
package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/internal/lambdamain"
	"github.com/idmirror/idmirror/security"
	idsync "github.com/idmirror/idmirror/sync"
)

type handler struct{ r *idsync.Refresher }

func (h handler) Invoke(ctx context.Context, raw []byte) ([]byte, error) {
	_, err := h.r.Handle(ctx, raw)
	return []byte("null"), err
}

func main() {
	start := time.Now()
	log := lambdamain.Logger("refresh")
	pool := lambdamain.Require(log, "POOL_ID", "the user pool whose events to handle")
	table := lambdamain.Require(log, "MIRROR_TABLE", "the mirror table")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		lambdamain.Fail(log, "AWS config", err)
	}
	store := deps.Mirror(cfg, table, log)
	// Every role grant, group definition change and disable/enable of an
	// admin the refresh records raises a security event (log line + metric).
	store.Observe(security.Watch(security.New(log, os.Stdout, "refresh"), lambdamain.RoleMap(log)))
	r := idsync.NewRefresher(deps.Cognito(cfg, lambdamain.Share(log, "QUOTA_SHARE"), deps.Rates(log, "RATES")), store, log, pool, strings.Split(os.Getenv("APP_CLIENT_IDS"), ","))
	log.Info("ready", zap.Duration("init", time.Since(start)), zap.String(lambdamain.FieldPool, pool))
	lambda.Start(handler{r})
}
