package mirror_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/mirror/mirrortest"
)

var _ idmirror.IntegrityChecker = (*mirror.Store)(nil)

// TestIntegrity runs the journal's conformance cases on DynamoDB Local; the
// tampering is done as an intruder with the writer's rights would do it:
// UpdateItem and DeleteItem through the SDK, straight on the table.
func TestIntegrity(t *testing.T) {
	db := testenv.DynamoDB(t)
	mirrortest.RunIntegrity(t, func(t *testing.T) (mirrortest.IntegrityStore, mirrortest.Tamper) {
		table := testenv.NewTable(t, db)
		return mirror.New(db, table, zaptest.NewLogger(t)), Tamperer(db, table)
	})
}

// Tamperer edits and deletes items of table directly.
func Tamperer(db *dynamodb.Client, table string) mirrortest.Tamper {
	ctx := context.Background()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	keys := func(t *testing.T, pk, prefix string) []string {
		t.Helper()
		out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":p": s(prefix)}})
		if err != nil {
			t.Fatal(err)
		}
		var sks []string
		for _, it := range out.Items {
			sks = append(sks, it["sk"].(*types.AttributeValueMemberS).Value)
		}
		sort.Strings(sks)
		return sks
	}
	historyKey := func(t *testing.T, pool, sub string, i int) (string, string) {
		pk := "P#" + pool + "#U#" + sub
		sks := keys(t, pk, "H#")
		if i >= len(sks) {
			t.Fatalf("%s has %d history items", pk, len(sks))
		}
		return pk, sks[i]
	}
	return mirrortest.Tamper{
		EditUserHistory: func(t *testing.T, pool, sub string, i int) (string, string) {
			pk, sk := historyKey(t, pool, sub, i)
			if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}, UpdateExpression: aws.String("SET note = :n"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":n": s("edited behind the store's back")}}); err != nil {
				t.Fatal(err)
			}
			return pk, sk
		},
		DeleteUserHistory: func(t *testing.T, pool, sub string, i int) (string, string) {
			pk, sk := historyKey(t, pool, sub, i)
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}}); err != nil {
				t.Fatal(err)
			}
			return pk, sk
		},
		EditMembership: func(t *testing.T, pool, group, sub string) (string, string) {
			pk := "P#" + pool + "#G#" + group
			var sk string
			for _, k := range keys(t, pk, "M#") {
				if strings.HasSuffix(k, "#"+sub) {
					sk = k
					break
				}
			}
			if sk == "" {
				t.Fatalf("no interval of %s in %s", sub, group)
			}
			if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}, UpdateExpression: aws.String("SET grantedBy = :b"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":b": s("restore")}}); err != nil {
				t.Fatal(err)
			}
			return pk, sk
		},
	}
}

// TestItemHashGolden pins the canonical encoding the journal hashes: a
// change here makes every stored journal disagree with its items.
func TestItemHashGolden(t *testing.T) {
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "P#p#U#sub"}, "sk": &types.AttributeValueMemberS{Value: "STATE"},
		"version": &types.AttributeValueMemberN{Value: "3"}, "deleted": &types.AttributeValueMemberBOOL{Value: false},
		"nothing": &types.AttributeValueMemberNULL{Value: true}, "bin": &types.AttributeValueMemberB{Value: []byte{0, 1}},
		"tags": &types.AttributeValueMemberSS{Value: []string{"b", "a"}}, "ns": &types.AttributeValueMemberNS{Value: []string{"2", "10"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{2}, {1}}},
		"list":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberBOOL{Value: true}}},
		"state": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"z": &types.AttributeValueMemberS{Value: ""}, "a": &types.AttributeValueMemberN{Value: "1"}}},
	}
	const want = "62621e641cf31ac3e43250cf93edf6c43103693c3cdf90ba30d07d13d48ae794"
	got := mirror.ItemHash(item)
	if got != want {
		t.Fatalf("ItemHash = %s, want %s", got, want)
	}
	// The journal head a STATE item carries is not part of its content.
	item["jhead"] = &types.AttributeValueMemberS{Value: "abc"}
	if mirror.ItemHash(item) != want {
		t.Fatal("jhead changed the item's hash")
	}
	// Sets are unordered; anything else changes the hash.
	item["tags"] = &types.AttributeValueMemberSS{Value: []string{"a", "b"}}
	if mirror.ItemHash(item) != want {
		t.Fatal("a set's order changed the item's hash")
	}
	for name, v := range map[string]types.AttributeValue{
		"version": &types.AttributeValueMemberS{Value: "3"}, // the type is part of the value
		"list":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: true}, &types.AttributeValueMemberS{Value: "x"}}},
		"state":   &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"z": &types.AttributeValueMemberS{Value: ""}}},
	} {
		c := map[string]types.AttributeValue{}
		for k, x := range item {
			c[k] = x
		}
		c[name] = v
		if mirror.ItemHash(c) == want {
			t.Errorf("changing %s left the hash as it was", name)
		}
	}
}

// An amendment of a recorded history item (a late actor) is journaled as
// the next part of the entity's version; later writes chain after it.
func TestAmendHistoryIsJournaled(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	u := alice("p")
	for i := range 2 {
		u.Status = []string{"CONFIRMED", "RESET_REQUIRED"}[i]
		if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(i), Source: idmirror.SourceSync}); err != nil {
			t.Fatal(err)
		}
	}
	pk := "P#p#U#" + u.Sub
	out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :h)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}, ":h": &types.AttributeValueMemberS{Value: "H#"}}})
	if err != nil || len(out.Items) != 2 {
		t.Fatalf("history: %v %v", out, err)
	}
	sk := out.Items[0]["sk"].(*types.AttributeValueMemberS).Value
	if err := mirror.AmendHistory(ctx, s, pk, sk, func(item map[string]types.AttributeValue) error {
		item["actor"] = &types.AttributeValueMemberS{Value: "arn:aws:iam::123456789012:user/alice"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u.Status = "CONFIRMED"
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldStatus, At: at(5), Source: idmirror.SourceEvent}); err != nil {
		t.Fatal(err)
	}
	reps, err := s.CheckIntegrity(ctx, idmirror.IntegrityQuery{Pool: "p"})
	if err != nil || len(reps) != 1 {
		t.Fatal(reps, err)
	}
	for _, p := range reps[0].Problems {
		t.Errorf("problem: %s", p)
	}
	if h := reps[0].Heads[pk]; h.Seq != idmirror.JournalSeq(3, 0) || reps[0].Records != 4 {
		t.Fatalf("head %+v over %d records; want J#3#0 after J#1#0, J#2#0, J#2#1", h, reps[0].Records)
	}
	if err := mirror.AmendHistory(ctx, s, pk, "H#nothing", func(map[string]types.AttributeValue) error { return nil }); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("amending a missing item: %v", err)
	}
}
