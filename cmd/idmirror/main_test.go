package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIAnswering(t, "", args...)
}

// runCLIAnswering runs the CLI as if at a terminal when answer is not empty:
// answer is what the person types at a prompt.
func runCLIAnswering(t *testing.T, answer string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, log: zap.NewNop(), stdin: strings.NewReader(answer), canAsk: func() bool { return answer != "" },
		awsConfig: func(context.Context) (aws.Config, error) {
			return testenv.Config(t), nil
		}}
	code = run(context.Background(), a, args)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"table"}, {"table", "create"}, {"table", "create", "--table", "x", "--bogus"}} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage || !strings.Contains(stderr, "Error:") {
			t.Errorf("idmirror %v: exit %d, stderr %q; want %d and an Error line", args, code, stderr, exitUsage)
		}
	}
	if code, stdout, _ := runCLI(t, "help"); code != exitOK || !strings.Contains(stdout, "table") {
		t.Errorf("help: %d %q", code, stdout)
	}
}

func TestTableCreate(t *testing.T) {
	db := testenv.DynamoDB(t)
	name := testenv.Name("cli")
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}) })
	if code, stdout, stderr := runCLI(t, "table", "create", "--table", name); code != exitOK || !strings.Contains(stdout, "created table "+name) {
		t.Fatalf("create: %d %q %q", code, stdout, stderr)
	}
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil || len(out.Table.GlobalSecondaryIndexes) != 4 {
		t.Fatalf("the created table: %v, %v", out, err)
	}
	code, _, stderr := runCLI(t, "table", "create", "--table", name)
	if code != exitFailed || !strings.Contains(stderr, "Try: ") {
		t.Fatalf("create again: %d %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "table", "create", "--table", name, "--if-not-exists"); code != exitOK {
		t.Fatalf("--if-not-exists: %d", code)
	}
}

func TestSyncCommand(t *testing.T) {
	direct := testenv.CognitoDirect(t)
	testenv.Cognito(t)
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	pool := testenv.NewPool(t, direct, "admins")
	testenv.CreateUser(t, direct, pool.ID, "ann", "Passw0rd!long", testenv.Attrs("email", "ann@example.com")...)

	code, stdout, stderr := runCLI(t, "sync", "--table", table, "--pool", pool.ID)
	if code != exitDrift || !strings.Contains(stdout, "user-missing") || strings.Contains(stdout, "ann@example.com") {
		t.Fatalf("drift report: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, _ = runCLI(t, "sync", "--table", table, "--pool", pool.ID, "--repair"); code != exitOK || !strings.Contains(stdout, "repaired 3") {
		t.Fatalf("repair: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ = runCLI(t, "sync", "--table", table, "--pool", pool.ID, "--json"); code != exitOK || !strings.Contains(stdout, `"drift": []`) {
		t.Fatalf("in sync: exit %d\n%s", code, stdout)
	}
	if code, _, stderr = runCLI(t, "sync", "--table", table, "--pool", "local_nosuchpool"); code != exitPoolGone || !strings.Contains(stderr, "Try:") {
		t.Fatalf("missing pool: exit %d %s", code, stderr)
	}
}

func TestRestoreCommand(t *testing.T) {
	direct := testenv.CognitoDirect(t)
	testenv.Cognito(t)
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	source := testenv.NewPool(t, direct, "admins")
	for _, u := range []string{"ann", "bob", "cy"} {
		testenv.CreateUser(t, direct, source.ID, u, "Passw0rd!long", testenv.Attrs("email", u+"@example.com", "custom:tenant", "t1")...)
	}
	direct.AdminAddUserToGroup(context.Background(), &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(source.ID), Username: aws.String("ann"), GroupName: aws.String("admins")})
	if code, _, stderr := runCLI(t, "sync", "--table", table, "--pool", source.ID, "--repair"); code != exitOK {
		t.Fatalf("sync: %d %s", code, stderr)
	}
	target := adminOnlyPool(t, direct)
	base := []string{"restore", "--table", table, "--source-pool", source.ID, "--target-pool", target}

	if code, _, stderr := runCLI(t, base...); code != exitUsage || !strings.Contains(stderr, "--password-mode") {
		t.Fatalf("without --password-mode: %d %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, append(base, "--dry-run")...)
	if code != exitOK || !strings.Contains(stdout, `"counts":{"create":3}`) || strings.Count(stdout, `"old_sub"`) != 3 {
		t.Fatalf("dry run: %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, append(base, "--password-mode", "suppress")...); code != exitFailed || !strings.Contains(stderr, "--yes") {
		t.Fatalf("no terminal, no --yes: %d %s", code, stderr)
	}
	report := t.TempDir() + "/report.jsonl"
	code, stdout, stderr = runCLI(t, append(base, "--password-mode", "suppress", "--yes", "--report", report)...)
	if code != exitOK || !strings.Contains(stdout, `"summary"`) {
		t.Fatalf("restore: %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(report)
	if err != nil || strings.Count(string(b), `"new_sub"`) != 3 {
		t.Fatalf("report: %v\n%s", err, b)
	}
	out, _ := direct.ListUsers(context.Background(), &cip.ListUsersInput{UserPoolId: aws.String(target)})
	if len(out.Users) != 3 {
		t.Fatalf("target has %d users", len(out.Users))
	}
	code, stdout, _ = runCLI(t, append(base, "--password-mode", "suppress", "--yes")...)
	if code != exitOK || !strings.Contains(stdout, `"counts":{"in-place":3}`) {
		t.Fatalf("second run: %d\n%s", code, stdout)
	}
	if fi, err := os.Stat(report); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the report names users and subs: mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	// Interactive: the plan is made once, shown, and applied only on "yes".
	second := adminOnlyPool(t, direct)
	base2 := []string{"restore", "--table", table, "--source-pool", source.ID, "--target-pool", second, "--password-mode", "suppress", "--json"}
	code, stdout, stderr = runCLIAnswering(t, "no\n", base2...)
	if code != exitFailed || !strings.Contains(stderr, "not confirmed") || strings.Count(stdout, `"old_sub"`) != 3 {
		t.Fatalf("answered no: %d\n%s\n%s", code, stdout, stderr)
	}
	if out, _ := direct.ListUsers(context.Background(), &cip.ListUsersInput{UserPoolId: aws.String(second)}); len(out.Users) != 0 {
		t.Fatalf("answered no, yet %d users were written", len(out.Users))
	}
	before := testenv.ProxyCounts(t, "", second)["AdminGetUser"]
	code, stdout, stderr = runCLIAnswering(t, "yes\n", base2...)
	if code != exitOK || !strings.Contains(stdout, `"counts":{"create":3}`) {
		t.Fatalf("answered yes: %d\n%s\n%s", code, stdout, stderr)
	}
	// One read of each target user (the plan), not one for the plan and one for the run.
	if reads := testenv.ProxyCounts(t, "", second)["AdminGetUser"] - before; reads != 3 {
		t.Fatalf("interactive restore read the target users %d times for 3 users, want 3", reads)
	}

	bad := []string{"restore", "--table", table, "--source-pool", source.ID, "--target-pool", "local_nosuchpool", "--dry-run"}
	if code, _, stderr := runCLI(t, bad...); code != exitFailed || !strings.Contains(stderr, "Try:") || !strings.Contains(stderr, "does not exist") {
		t.Fatalf("missing target: %d %s", code, stderr)
	}
}

func TestAuditCommandsFormats(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	base := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	s.PutRoleMap(ctx, "p", idmirror.DefaultRoleMap(), base, idmirror.SourceSync)
	for i, name := range []string{"zed", "amy", "kim"} {
		u := idmirror.User{PoolID: "p", Sub: "sub-" + name, Username: name, Enabled: true, Groups: []string{"admins"},
			Attributes: map[string]string{"email": name + "@example.com", "given_name": "Name, with \"quotes\""}}
		if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: base.Add(time.Duration(i+1) * time.Hour), Source: idmirror.SourceSync}); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"--table", table, "--pool", "p"}
	run := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, append(args, common...)...)
		if code != exitOK {
			t.Fatalf("idmirror %v: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	for _, args := range [][]string{
		{"audit", "members", "--role", "admin", "--as-of", "2026-07-01T02:30:00Z"},
		{"audit", "changes", "--since", "2026-07-01", "--field", "groups"},
		{"audit", "export", "--as-of", "2026-07-02"},
	} {
		csvOut := run(append(args, "--format", "csv")...)
		recs, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%v: CSV %v:\n%s", args, err, csvOut)
		}
		jsonOut := run(append(args, "--format", "json")...)
		var rows []map[string]any
		if err := json.Unmarshal([]byte(jsonOut), &rows); err != nil || len(rows) != len(recs)-1 {
			t.Fatalf("%v: JSON (%d rows vs %d CSV rows) %v:\n%s", args, len(rows), len(recs)-1, err, jsonOut)
		}
		if again := run(append(args, "--format", "csv")...); again != csvOut {
			t.Fatalf("%v: CSV not stable", args)
		}
	}
	members := run("audit", "members", "--role", "admin", "--as-of", "2026-07-01T02:30:00Z", "--format", "csv")
	if !strings.HasPrefix(members, "username,sub,email,group,role,since,granted_by,until\namy,") || strings.Contains(members, "kim") {
		t.Fatalf("members as of 02:30 (zed at 01:00, amy at 02:00, kim at 03:00):\n%s", members)
	}
	if text := run("audit", "user", "amy@example.com", "--history"); !strings.Contains(text, "sub-amy") || !strings.Contains(text, "groups") {
		t.Fatalf("user text:\n%s", text)
	}
	if code, _, _ := runCLI(t, append([]string{"audit", "user", "nobody"}, common...)...); code != exitFailed {
		t.Fatalf("unknown user: exit %d", code)
	}
	if code, _, _ := runCLI(t, append([]string{"audit", "changes"}, common...)...); code != exitUsage {
		t.Fatalf("changes without --since: exit %d", code)
	}
}

// Each audit subcommand takes only its own flags: one meant for another is
// a usage error naming the flag (and who takes it), before any AWS call.
func TestAuditRejectsFlagsOfOtherSubcommands(t *testing.T) {
	common := []string{"--table", "t", "--pool", "p"}
	for _, c := range []struct {
		args        []string
		flag, owner string
	}{
		{[]string{"audit", "user", "amy", "--role", "admin"}, "-role", "audit members"},
		{[]string{"audit", "members", "--role", "admin", "--history"}, "-history", "audit user"},
		{[]string{"audit", "export", "--since", "2026-07-01"}, "-since", "audit changes"},
		{[]string{"audit", "changes", "--since", "2026-07-01", "--as-of", "2026-07-02"}, "-as-of", "audit members, audit export"},
		{[]string{"audit", "members", "--group", "admins", "--bogus"}, "-bogus", ""},
	} {
		code, _, stderr := runCLI(t, append(c.args, common...)...)
		if code != exitUsage || !strings.Contains(stderr, "Error: flag provided but not defined: "+c.flag) || !strings.Contains(stderr, c.owner) {
			t.Errorf("idmirror %v: exit %d, stderr %q; want %d, the flag %s named and %q", c.args, code, stderr, exitUsage, c.flag, c.owner)
		}
	}
	if code, _, stderr := runCLI(t, append([]string{"audit", "user"}, common...)...); code != exitUsage || !strings.Contains(stderr, "USERNAME") {
		t.Errorf("audit user without a user: exit %d, %q", code, stderr)
	}
}
