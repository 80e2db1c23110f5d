package mirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// Review B: the integrity check skips every item whose pk contains
// "#INTENT#" (mirror/journal.go, gather). Cognito group names may hold '#'
// (CreateGroup: GroupName pattern [\p{L}\p{M}\p{S}\p{N}\p{P}]+,
// https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateGroup.html),
// so a group named "ops#INTENT#x" is P#pool#G#ops#INTENT#x: its definition,
// its history and every membership interval under it are never checked.
// An intruder who edits such an interval (or grants a membership outright)
// is not named by audit integrity.
func TestReviewBIntegrityChecksGroupsNamedLikeIntents(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, zaptest.NewLogger(t))
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const pool, group = "p", "ops#INTENT#x"
	if _, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: pool, Name: group}, At: at, Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	u := idmirror.User{PoolID: pool, Sub: "sub-alice", Username: "alice", Enabled: true, Groups: []string{group}}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	reps, err := s.CheckIntegrity(ctx, idmirror.IntegrityQuery{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || len(reps[0].Problems) != 0 || reps[0].Chains != 2 {
		// Found: 1 chain (the group's is not read) and a false "removed" of
		// alice's interval under the group.
		t.Errorf("clean table: want 2 chains and no problem, got %+v", reps)
	}
	// An intruder edits the group's STATE item and forges an interval under it.
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	gpk := "P#" + pool + "#G#" + group
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"pk": str(gpk), "sk": str("STATE")}, UpdateExpression: aws.String("SET note = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": str("edited behind the store's back")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": str(gpk), "sk": str("M#2026-01-01T00:00:00.000000000Z#sub-mallory"), "kind": str("member"), "pool": str(pool)}}); err != nil {
		t.Fatal(err)
	}
	reps, err = s.CheckIntegrity(ctx, idmirror.IntegrityQuery{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || len(reps[0].Problems) < 2 {
		t.Fatalf("group %q edited and an interval forged under it, yet audit integrity reports %+v", group, reps)
	}
}
