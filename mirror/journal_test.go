package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
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

// A table written before the journal existed (here: its journal items
// deleted and its STATE items stripped of their heads) reports every item
// unjournaled; AdoptJournal vouches for them once, and later writes chain
// after it. An item edited after its journal record is not adopted.
func TestAdoptJournal(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	u := alice("p")
	put := func(u idmirror.User, m int) {
		t.Helper()
		if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(m), Source: idmirror.SourceSync}); err != nil {
			t.Fatal(err)
		}
	}
	put(u, 1)
	u.Groups = []string{"operators"}
	put(u, 2)
	if _, err := s.PutRoleMap(ctx, "p", idmirror.DefaultRoleMap(), at(1), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	// Forget the journal of alice, as a table from before it.
	alicePK := "P#p#U#" + u.Sub
	out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :j)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: alicePK}, ":j": &types.AttributeValueMemberS{Value: "J#"}}})
	if err != nil || len(out.Items) != 2 {
		t.Fatalf("alice's journal: %d items, %v", len(out.Items), err)
	}
	for _, it := range out.Items {
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: alicePK}, "sk": &types.AttributeValueMemberS{Value: "STATE"}},
		UpdateExpression: aws.String("REMOVE jhead, jpart")}); err != nil {
		t.Fatal(err)
	}
	// And edit the role map's history item, which the journal does cover.
	rm, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :h)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "P#p#ROLEMAP"}, ":h": &types.AttributeValueMemberS{Value: "H#"}}})
	if err != nil || len(rm.Items) != 1 {
		t.Fatal(rm, err)
	}
	rmSK := rm.Items[0]["sk"].(*types.AttributeValueMemberS).Value
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "P#p#ROLEMAP"}, "sk": &types.AttributeValueMemberS{Value: rmSK}},
		UpdateExpression: aws.String("SET note = :n"), ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberS{Value: "edited"}}}); err != nil {
		t.Fatal(err)
	}
	check := func() idmirror.IntegrityReport {
		t.Helper()
		reps, err := s.CheckIntegrity(ctx, idmirror.IntegrityQuery{Pool: "p"})
		if err != nil || len(reps) != 1 {
			t.Fatal(reps, err)
		}
		return reps[0]
	}
	unjournaled := 0
	for _, p := range check().Problems {
		if p.Problem == idmirror.ProblemUnjournaled {
			unjournaled++
		}
	}
	// alice: STATE, 2 history items, 2 intervals (admins revoked, operators).
	if unjournaled != 5 {
		t.Fatalf("%d unjournaled items before the adoption, want 5: %+v", unjournaled, check().Problems)
	}
	n, err := s.AdoptJournal(ctx, "p")
	if err != nil || n != 4 {
		t.Fatalf("adopted %d items (want alice's 2 history items and 2 intervals, besides her STATE): %v", n, err)
	}
	rep := check()
	if len(rep.Problems) != 1 || rep.Problems[0].Key != rmSK || rep.Problems[0].Problem != idmirror.ProblemEdited {
		t.Fatalf("after the adoption only the edited role-map item remains: %+v", rep.Problems)
	}
	u.Status = "RESET_REQUIRED"
	put(u, 3)
	if rep := check(); len(rep.Problems) != 1 {
		t.Fatalf("a write after the adoption: %+v", rep.Problems)
	}
	// Nothing left to adopt.
	if n, err := s.AdoptJournal(ctx, "p"); err != nil || n != 0 {
		t.Fatalf("a second adoption adopted %d: %v", n, err)
	}
}

// A check while idmirror writes reports nothing: a write caught half-read by
// the scan shows in one of the two reads at most.
func TestIntegrityCheckDuringWrites(t *testing.T) {
	db := testenv.DynamoDB(t)
	s := mirror.New(db, testenv.NewTable(t, db), nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 3)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := alice("p")
			u.Sub, u.Username = fmt.Sprintf("sub-%d", w), fmt.Sprintf("user%d", w)
			for i := range 40 {
				u.Groups = []string{fmt.Sprintf("g%d", i%3)}
				u.Attributes = map[string]string{"email": u.Username + "@example.com", "custom:seq": fmt.Sprint(i)}
				if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(i), Source: idmirror.SourceSync}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	checks := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		reps, err := s.CheckIntegrity(ctx, idmirror.IntegrityQuery{Pool: "p"})
		if err != nil {
			t.Fatal(err)
		}
		checks++
		for _, p := range reps[0].Problems {
			t.Errorf("check %d during writes: %s", checks, p)
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d checks ran during 120 writes", checks)
}
