package sync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/cognito/mempool"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	idsync "github.com/idmirror/idmirror/sync"
)

// killedAfterCommit fails every settle of pending intervals (a transaction
// whose journal item is a later part of a version, J#<version>#<part > 0>):
// a writer that died right after the transaction that recorded a user in
// 100 groups.
type killedAfterCommit struct{ mirror.API }

func (k killedAfterCommit) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put == nil {
			continue
		}
		if sk, ok := it.Put.Item["sk"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(sk.Value, "J#") && !strings.HasSuffix(sk.Value, "#000") {
			return nil, errors.New("killed")
		}
	}
	return k.API.TransactWriteItems(ctx, in, opts...)
}

// Review finding: the reconcile finishes membership intervals a dead writer
// left pending, though the user shows no drift.
func TestReconcileFinishesPendingMemberships(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	ctx := context.Background()
	pools := mempool.New(mempool.Options{})
	pool := pools.CreatePool(mempool.PoolOptions{Name: "p"})
	u, err := pools.CreateUser(ctx, pool, "hal", map[string]string{"email": "hal@example.com"}, cognito.Suppress)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for i := range 100 {
		g := fmt.Sprintf("g%03d", i)
		groups = append(groups, g)
		pools.CreateGroup(ctx, idmirror.Group{PoolID: pool, Name: g})
		pools.AddToGroup(ctx, pool, "hal", g)
	}
	if _, err := idsync.NewReconciler(pools, mirror.New(killedAfterCommit{db}, table, nil), nil, nil, idsync.Options{Repair: true}).Run(ctx, pool); err == nil {
		t.Fatal("the killed reconcile must report hal")
	}
	store := mirror.New(db, table, nil)
	if rec, _ := store.GetUser(ctx, pool, u.Sub); rec.Pending == 0 {
		t.Fatal("the kill left nothing pending: the test proves nothing")
	}
	rep, err := idsync.NewReconciler(pools, store, nil, nil, idsync.Options{Repair: true}).Run(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	open := 0
	for _, g := range groups {
		ms, _ := store.Members(ctx, pool, g, time.Time{})
		open += len(ms)
	}
	if rec, _ := store.GetUser(ctx, pool, u.Sub); rec.Pending != 0 || open != 100 {
		t.Fatalf("after a reconcile (drift %d): %d pending, %d of 100 intervals open", len(rep.Drift), rec.Pending, open)
	}
}
