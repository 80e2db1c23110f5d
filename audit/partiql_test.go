package audit_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// The PartiQL statements docs/auditing.md gives auditors run on DynamoDB
// Local against a mirror written by idmirror (pool "P", as the doc writes
// it), and the actor queries find the principal's change.
func TestDocumentedPartiQL(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	at := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	mallory := idmirror.Actor{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/mallory", SourceIP: "198.51.100.66"}
	u := idmirror.User{PoolID: "P", Sub: "sub-alice", Username: "alice", Enabled: true, Attributes: map[string]string{"email": "alice@example.com"}}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync, Actor: idmirror.SyncActor()}); err != nil {
		t.Fatal(err)
	}
	u.Groups = []string{"admins"}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at.Add(time.Hour), Source: idmirror.SourceEvent, Actor: mallory}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRoleMap(ctx, "P", idmirror.DefaultRoleMap(), at, idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}

	doc, err := os.ReadFile("../docs/auditing.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "## The same questions in the AWS console (PartiQL)")
	_, rest, _ = strings.Cut(rest, "```sql\n")
	block, _, _ := strings.Cut(rest, "```")
	var stmts []string
	var cur []string
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") || strings.TrimSpace(line) == "" {
			continue
		}
		cur = append(cur, line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(strings.Join(cur, "\n")), ";"))
			cur = nil
		}
	}
	if len(stmts) < 10 {
		t.Fatalf("found %d statements in docs/auditing.md", len(stmts))
	}
	rows := map[string]int{}
	for _, q := range stmts {
		q = strings.NewReplacer(`"idmirror"`, `"`+table+`"`, "<sub>", "sub-alice").Replace(q)
		var n int
		var next *string
		for {
			out, err := db.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: aws.String(q), NextToken: next})
			if err != nil {
				t.Errorf("documented statement fails:\n%s\n%v", q, err)
				break
			}
			n += len(out.Items)
			if next = out.NextToken; next == nil {
				break
			}
		}
		rows[q] = n
	}
	find := func(part string) int {
		for q, n := range rows {
			if strings.Contains(q, part) {
				return n
			}
		}
		t.Errorf("no documented statement contains %q", part)
		return -1
	}
	if n := find("grantedActor"); n != 1 {
		t.Errorf("who granted the current admin memberships: %d rows, want 1", n)
	}
	if n := find("actor.arn = 'arn:aws:iam::111122223333:user/mallory'"); n != 1 {
		t.Errorf("what mallory changed in alice's history: %d rows, want 1", n)
	}
	if n := find("unamePK = 'P#alice'"); n != 1 {
		t.Errorf("alice by username: %d rows, want 1", n)
	}
}
