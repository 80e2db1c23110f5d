package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// integrityFixture writes users with groups, a group, the configuration and
// the role map of pool p into table.
func integrityFixture(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	base := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for i, name := range []string{"amy", "kim"} {
		u := idmirror.User{PoolID: "p", Sub: "sub-" + name, Username: name, Enabled: true, Groups: []string{"admins"},
			Attributes: map[string]string{"email": name + "@example.com"}}
		for j := range 2 {
			u.Attributes["custom:seq"] = string(rune('a' + j))
			if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: base.Add(time.Duration(i*10+j) * time.Hour), Source: idmirror.SourceSync}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: "p", Name: "admins"}, At: base, Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPoolConfig(ctx, idmirror.PoolConfig{PoolID: "p", Name: "staff"}, base, idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRoleMap(ctx, "p", idmirror.DefaultRoleMap(), base, idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
}

// keysOf returns the sort keys of pk's items that begin with prefix.
func keysOf(t *testing.T, db *dynamodb.Client, table, pk, prefix string) []string {
	t.Helper()
	out, err := db.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix}}})
	if err != nil {
		t.Fatal(err)
	}
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it["sk"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
}

// Editing a history item and a membership interval, and deleting a history
// item, straight in DynamoDB (as a writer role could) makes `audit
// integrity` exit 7 naming each; a clean table passes and writes its digest.
func TestAuditIntegrityFindsTampering(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	integrityFixture(t, db, table)
	ctx := context.Background()
	digest := filepath.Join(t.TempDir(), "digest.json")
	code, stdout, stderr := runCLI(t, "audit", "integrity", "--table", table, "--pool", "p", "--digest-out", digest)
	if code != exitOK || !strings.Contains(stdout, "pool p: ok; 5 chains") {
		t.Fatalf("a clean table: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(digest); err != nil {
		t.Fatalf("no digest written: %v", err)
	}

	amy, kim := "P#p#U#sub-amy", "P#p#U#sub-kim"
	edited := keysOf(t, db, table, amy, "H#")[1]
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: itemKey(amy, edited),
		UpdateExpression:          aws.String("SET #s.#a.#e = :e"),
		ExpressionAttributeNames:  map[string]string{"#s": "state", "#a": "attributes", "#e": "email"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberS{Value: "someone@else.example"}}}); err != nil {
		t.Fatal(err)
	}
	interval := keysOf(t, db, table, "P#p#G#admins", "M#")[0]
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: itemKey("P#p#G#admins", interval),
		UpdateExpression:          aws.String("SET grantedAt = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberS{Value: "2020-01-01T00:00:00.000000000Z"}}}); err != nil {
		t.Fatal(err)
	}
	deleted := keysOf(t, db, table, kim, "H#")[0]
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: itemKey(kim, deleted)}); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr = runCLI(t, "audit", "integrity", "--table", table, "--pool", "p", "--digest-out", digest+".2")
	if code != exitTampered {
		t.Fatalf("a tampered table: exit %d, want %d\n%s%s", code, exitTampered, stdout, stderr)
	}
	for _, want := range []string{
		"edited history " + amy + " " + edited,
		"edited member P#p#G#admins " + interval,
		"removed history " + kim + " " + deleted,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the report does not say %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "3 problem(s)") || !strings.Contains(stderr, "Error: integrity: 3 item(s)") {
		t.Errorf("want exactly three findings:\n%s%s", stdout, stderr)
	}
	if _, err := os.Stat(digest + ".2"); err == nil {
		t.Error("a digest of a table that fails the check was written")
	}

	// The same as JSON, against the digest taken while the table was clean.
	code, stdout, _ = runCLI(t, "audit", "integrity", "--table", table, "--json", "--digest-in", digest)
	var out struct {
		Reports []idmirror.IntegrityReport `json:"reports"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != exitTampered || len(out.Reports) != 1 || len(out.Reports[0].Problems) != 3 {
		t.Fatalf("--json: exit %d, %v: %s", code, err, stdout)
	}
}

// An entity deleted whole (its state, history and journal) leaves nothing
// for the chains to disagree with: only the digest kept outside finds it.
func TestAuditIntegrityDigestFindsADeletedEntity(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	integrityFixture(t, db, table)
	digest := filepath.Join(t.TempDir(), "digest.json")
	if code, stdout, stderr := runCLI(t, "audit", "integrity", "--table", table, "--digest-out", digest); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var sks []string
	for _, prefix := range []string{"STATE", "H#", "J#"} {
		sks = append(sks, keysOf(t, db, table, "P#p#CONFIG", prefix)...)
	}
	if len(sks) != 3 {
		t.Fatalf("the configuration's items: %v", sks)
	}
	for _, sk := range sks {
		if _, err := db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: itemKey("P#p#CONFIG", sk)}); err != nil {
			t.Fatal(err)
		}
	}
	if code, stdout, _ := runCLI(t, "audit", "integrity", "--table", table, "--pool", "p"); code != exitOK {
		t.Fatalf("without the digest nothing disagrees: exit %d\n%s", code, stdout)
	}
	code, stdout, stderr := runCLI(t, "audit", "integrity", "--table", table, "--pool", "p", "--digest-in", digest)
	if code != exitTampered || !strings.Contains(stdout, "removed journal P#p#CONFIG J#0000000001#000: the digest's chain is gone") {
		t.Fatalf("with the digest: exit %d\n%s%s", code, stdout, stderr)
	}
	// A digest edited by hand is refused before anything is read.
	b, _ := os.ReadFile(digest)
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	d["pools"].(map[string]any)["p"].(map[string]any)["digest"] = strings.Repeat("0", 64)
	nb, _ := json.Marshal(d)
	if err := os.WriteFile(digest, nb, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "audit", "integrity", "--table", table, "--digest-in", digest); code != exitFailed || !strings.Contains(stderr, "the heads hash to") {
		t.Fatalf("a forged digest: exit %d: %s", code, stderr)
	}
}

func TestAuditIntegrityUsage(t *testing.T) {
	for _, args := range [][]string{{"audit", "integrity"}, {"audit", "integrity", "--table", "t", "--format", "csv"}, {"audit", "integrity", "--table", "t", "--digest-in", "/nonexistent/digest.json"}} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage || !strings.Contains(stderr, "Error:") {
			t.Errorf("idmirror %v: exit %d, %q; want %d", args, code, stderr, exitUsage)
		}
	}
}

// table adopt-journal vouches for items written before the journal (here: a
// history item whose journal record was deleted) so that the check passes.
func TestTableAdoptJournal(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	integrityFixture(t, db, table)
	ctx := context.Background()
	for _, sk := range keysOf(t, db, table, "P#p#ROLEMAP", "J#") {
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: itemKey("P#p#ROLEMAP", sk)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: itemKey("P#p#ROLEMAP", "STATE"),
		UpdateExpression: aws.String("REMOVE jhead, jpart")}); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := runCLI(t, "audit", "integrity", "--table", table); code != exitTampered || !strings.Contains(stdout, "unjournaled history P#p#ROLEMAP") {
		t.Fatalf("before the adoption: exit %d\n%s", code, stdout)
	}
	if code, stdout, stderr := runCLI(t, "table", "adopt-journal", "--table", table, "--pool", "p"); code != exitOK || !strings.Contains(stdout, "adopted 1 items") {
		t.Fatalf("adopt-journal: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, "audit", "integrity", "--table", table); code != exitOK {
		t.Fatalf("after the adoption: exit %d\n%s", code, stdout)
	}
}
