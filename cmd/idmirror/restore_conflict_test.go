package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// adminOnlyPool makes a target where only administrators create users.
func adminOnlyPool(t *testing.T, c *cip.Client) string {
	t.Helper()
	p := testenv.NewPool(t, c)
	if _, err := c.UpdateUserPool(context.Background(), &cip.UpdateUserPoolInput{UserPoolId: aws.String(p.ID),
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: true}}); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// A conflict ends the run with the partial-failure code and says what to
// do; --adopt takes the account over; an open target is refused unless
// --allow-open-signup; a report file that was there becomes 0600.
func TestRestoreConflictsOnTheCommandLine(t *testing.T) {
	direct := testenv.CognitoDirect(t)
	testenv.Cognito(t)
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	ctx := context.Background()
	source := testenv.NewPool(t, direct, "admins")
	testenv.CreateUser(t, direct, source.ID, "ann", "Passw0rd!long", testenv.Attrs("email", "ann@example.com", "custom:tenant", "t1")...)
	direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(source.ID), Username: aws.String("ann"), GroupName: aws.String("admins")})
	if code, _, stderr := runCLI(t, "sync", "--table", table, "--pool", source.ID, "--repair"); code != exitOK {
		t.Fatalf("sync: %d %s", code, stderr)
	}

	open := testenv.NewPool(t, direct).ID
	base := []string{"restore", "--table", table, "--source-pool", source.ID, "--password-mode", "suppress", "--yes", "--json"}
	code, _, stderr := runCLI(t, append(base, "--target-pool", open)...)
	if code != exitFailed || !strings.Contains(stderr, "AllowAdminCreateUserOnly") || !strings.Contains(stderr, "nothing was written") {
		t.Fatalf("open target: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, append(base, "--target-pool", open, "--allow-open-signup")...); code != exitOK {
		t.Fatalf("open target, --allow-open-signup: %d %s", code, stderr)
	}

	target := adminOnlyPool(t, direct)
	testenv.CreateUser(t, direct, target, "ann", "Passw0rd!long", testenv.Attrs("email", "someone@else.example")...)
	report := t.TempDir() + "/report.jsonl"
	if err := os.WriteFile(report, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, append(base, "--target-pool", target, "--report", report)...)
	if code != exitPartial || !strings.Contains(stdout, `"action":"conflict"`) || !strings.Contains(stderr, "--adopt") {
		t.Fatalf("a conflict: %d\n%s\n%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(report); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("a report file that was there: mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	code, stdout, stderr = runCLI(t, append(base, "--target-pool", target, "--adopt", "ann")...)
	if code != exitOK || !strings.Contains(stdout, `"action":"update"`) {
		t.Fatalf("--adopt ann: %d\n%s\n%s", code, stdout, stderr)
	}
}

// An error after groups were written does not claim nothing was.
func TestRestoreErrorSaysWhatWasWritten(t *testing.T) {
	rep := &restore.Report{Groups: []restore.GroupResult{{Name: "admins", Action: restore.Create}}, Counts: map[restore.Action]int{restore.Create: 2}}
	err := writtenError(restoreError(errors.New("mirror: throttled")), rep)
	var h hintError
	if !errors.As(err, &h) || strings.Contains(err.Error()+h.hint, "nothing was written") || !strings.Contains(err.Error(), "1 groups restored, 2 users") {
		t.Fatalf("err = %v (hint %q)", err, h.hint)
	}
	pre := writtenError(restoreError(restore.ErrPreflight), rep)
	if !errors.As(pre, &h) || !strings.Contains(h.hint, "nothing was written") {
		t.Fatalf("a preflight error: %v", pre)
	}
}
