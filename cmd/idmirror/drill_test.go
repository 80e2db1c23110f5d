package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito/mempool"
	"github.com/idmirror/idmirror/drill"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror/memmirror"
)

func TestDrillVerifyPoolUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"verify"}, {"verify", "--table", "t", "--source-pool", "a"}, {"pool"}, {"pool", "create", "--table", "t"},
		{"drill"}, {"drill", "--table", "t", "--source-pool", "p", "--sample", "-1"}} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage || !strings.Contains(stderr, "Error:") {
			t.Errorf("idmirror %v: exit %d, stderr %q; want %d", args, code, stderr, exitUsage)
		}
	}
}

// pool create copies the recorded configuration and the live groups.
func TestCreatePoolFromTheMirror(t *testing.T) {
	ctx := context.Background()
	svc, store := mempool.New(mempool.Options{}), memmirror.New()
	no := false
	cfg := idmirror.PoolConfig{PoolID: "us-east-1_src", Name: "src", AdminCreateOnly: true, CaseSensitive: &no, UsernameAttributes: []string{"email"},
		PasswordPolicy: &idmirror.PasswordPolicy{MinLength: 14}, Schema: []idmirror.SchemaAttribute{{Name: "custom:tenant", DataType: "String"}}}
	if _, err := store.PutPoolConfig(ctx, cfg, testenvNow(), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	p := int32(2)
	for i, g := range []idmirror.GroupWrite{{Group: idmirror.Group{PoolID: cfg.PoolID, Name: "admins", Precedence: &p}},
		{Group: idmirror.Group{PoolID: cfg.PoolID, Name: "gone"}}, {Group: idmirror.Group{PoolID: cfg.PoolID, Name: "gone"}, Delete: true}} {
		g.At, g.Source = testenvNow().Add(time.Duration(i-3)*time.Second), idmirror.SourceSync
		if _, err := store.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	out, err := createPool(ctx, store, svc, cfg.PoolID, "copy", true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Describe(ctx, out.PoolID)
	if err != nil {
		t.Fatal(err)
	}
	got.PoolID, got.Name, cfg.PoolID, cfg.Name = "", "", "", ""
	got.MFA = "" // mempool reports OFF for unset
	if fmt.Sprint(got.Fields()["schema"]) == "" || !strings.Contains(got.Fields()["schema"], "custom:tenant:String:false") ||
		got.Fields()["password_policy"] != cfg.Fields()["password_policy"] || got.Fields()["username_attributes"] != "email" || !got.AdminCreateOnly {
		t.Fatalf("created %v\nfrom %v", got.Fields(), cfg.Fields())
	}
	if fmt.Sprint(out.Groups) != "[admins]" || len(out.NotRecreated) == 0 {
		t.Fatalf("groups %v, not recreated %v", out.Groups, out.NotRecreated)
	}
}

func testenvNow() time.Time { return time.Now() }

// The three commands end to end on the local stack (the stack's proxy).
func TestDrillVerifyPoolCommands(t *testing.T) {
	direct := testenv.CognitoDirect(t)
	testenv.Cognito(t)
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	src := testenv.NewPool(t, direct, "admins")
	ctx := context.Background()
	for i := range 6 {
		name := fmt.Sprintf("cli%d", i)
		testenv.CreateUser(t, direct, src.ID, name, "Passw0rd!x", testenv.Attrs("email", name+"@example.com", "custom:tenant", "t")...)
		if i%2 == 0 {
			if _, err := direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(src.ID), Username: aws.String(name), GroupName: aws.String("admins")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if code, _, stderr := runCLI(t, "sync", "--table", table, "--pool", src.ID, "--repair", "--deep"); code != exitOK {
		t.Fatalf("sync: %d %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "drill", "--table", table, "--source-pool", src.ID, "--json")
	var rep drill.Report
	if err := json.Unmarshal([]byte(stdout), &rep); code != exitOK || err != nil || rep.UsersRestored != 6 || rep.Differences != 0 || rep.MembershipsRestored != 3 {
		t.Fatalf("drill: exit %d, %v, %s %s", code, err, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "pool", "create", "--table", table, "--source-pool", src.ID, "--name", testenv.Name("copy"), "--json")
	var created poolCreated
	if err := json.Unmarshal([]byte(stdout), &created); code != exitOK || err != nil || created.PoolID == "" {
		t.Fatalf("pool create: exit %d, %v, %s %s", code, err, stdout, stderr)
	}
	t.Cleanup(func() {
		_, _ = direct.DeleteUserPool(context.Background(), &cip.DeleteUserPoolInput{UserPoolId: aws.String(created.PoolID)})
	})
	// An empty pool is not what the mirror promised: every user missing.
	code, stdout, stderr = runCLI(t, "verify", "--table", table, "--source-pool", src.ID, "--target-pool", created.PoolID)
	if code != exitDiffers || strings.Count(stdout, "DIFF missing-user") != 6 || !strings.Contains(stderr, "Try:") {
		t.Fatalf("verify of an empty pool: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
