package sync_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	idsync "github.com/idmirror/idmirror/sync"
)

// BenchmarkReconcile measures a full reconcile through the fidelity proxy
// (quotas on, at the pacer's default half of Cognito's rates) of a pool of
// IDMIRROR_BENCH_USERS users (default 1000) in 3 groups: the first run
// mirrors everyone, the second finds the pool in sync.
//
//	IDMIRROR_BENCH_USERS=5000 go test -run XXX -bench Reconcile -benchtime 1x ./sync
func BenchmarkReconcile(b *testing.B) {
	n := 1000
	if s := os.Getenv("IDMIRROR_BENCH_USERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	direct := testenv.CognitoDirect(b)
	testenv.Cognito(b)
	pool := testenv.NewPool(b, direct, "admins", "operators", "staff")
	seedStart := time.Now()
	seed(b, direct, pool.ID, n)
	b.Logf("seeded %d users in %s", n, time.Since(seedStart).Round(time.Millisecond))
	db := testenv.DynamoDB(b)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		store := mirror.New(db, testenv.NewTable(b, db), nil)
		adapter := cognito.NewPool(cognito.NewClient(testenv.Config(b)), cognito.NewPacer(cognito.PacerOptions{}))
		r := idsync.NewReconciler(adapter, store, nil, adapter.Pacer().Stats, idsync.Options{Repair: true})
		b.StartTimer()
		for _, run := range []string{"first (mirror everyone)", "second (in sync)"} {
			rep, err := r.Run(context.Background(), pool.ID)
			if err != nil {
				b.Fatal(err)
			}
			took := rep.FinishedAt.Sub(rep.StartedAt)
			b.Logf("%s run: %d users, %d memberships, %d drift, %d Cognito calls (%d throttled), %s",
				run, rep.Users, rep.Memberships, len(rep.Drift), rep.Calls, rep.Throttled, took.Round(time.Millisecond))
			b.ReportMetric(float64(rep.Calls), "calls/"+map[bool]string{true: "first", false: "second"}[run[0] == 'f'])
		}
	}
}

// seed creates n users: 2% admins, 10% operators, 50% staff.
func seed(b *testing.B, c *cip.Client, pool string, n int) {
	ctx := context.Background()
	testenv.ForEach(b, n, 4, func(i int) error {
		name := fmt.Sprintf("u%05d", i)
		if _, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(pool), Username: aws.String(name),
			MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs("email", name+"@example.com", "custom:tenant", "t1")}); err != nil {
			return err
		}
		for g, every := range map[string]int{"admins": 50, "operators": 10, "staff": 2} {
			if i%every == 0 {
				if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(pool), Username: aws.String(name), GroupName: aws.String(g)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
