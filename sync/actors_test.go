package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/security"
	idsync "github.com/idmirror/idmirror/sync"
)

// The golden CloudTrail records' caller (sync/testdata/cloudtrail-*.json).
const (
	goldenARN    = "arn:aws:sts::111122223333:assumed-role/ops/ops-session"
	goldenIssuer = "arn:aws:iam::111122223333:role/ops"
	goldenIP     = "198.51.100.7"
)

// On the local stack: a CloudTrail event's userIdentity becomes the actor
// of the history item it causes, which audit changes --actor finds; the
// grant to admins raises the security event and its metric; an event that
// arrives after the reconcile found its change attaches its actor to that
// item, adding none.
func TestActorsFromCloudTrailAndGrantAlerts(t *testing.T) {
	e := newEnv(t, "admins")
	ctx := context.Background()
	core, logs := observer.New(zap.InfoLevel)
	var metrics bytes.Buffer
	e.store.Observe(security.Watch(security.New(zap.New(core), &metrics, "refresh"), idmirror.DefaultRoleMap()))
	p := aws.String(e.pool.ID)
	sub := e.createUser("eve", "email", "eve@example.com")
	r := e.refresher()
	if o := handle(t, r, e.event("AdminCreateUser", sub, "")); o != idsync.Refreshed {
		t.Fatalf("create: %s", o)
	}
	if _, err := e.direct.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: p, Username: aws.String("eve"), GroupName: aws.String("admins")}); err != nil {
		t.Fatal(err)
	}
	if o := handle(t, r, e.event("AdminAddUserToGroup", sub, "admins")); o != idsync.Refreshed {
		t.Fatalf("group event: %s", o)
	}
	hist, err := e.store.UserHistory(ctx, e.pool.ID, sub)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %d items, %v", len(hist), err)
	}
	a := hist[1].Actor
	if a.ARN != goldenARN || a.SessionIssuer != goldenIssuer || a.SourceIP != goldenIP || a.Type != "AssumedRole" || a.EventID == "" {
		t.Errorf("actor of the grant = %+v", a)
	}

	// The security event, from the captured log line and EMF metric.
	grants := logs.FilterField(zap.String(security.FieldEvent, string(security.RoleGranted))).All()
	if len(grants) != 1 {
		t.Fatalf("role_granted log lines = %d, want 1 (all: %v)", len(grants), logs.All())
	}
	f := grants[0].ContextMap()
	if f["role"] != "admin" || f["group"] != "admins" || f["sub"] != sub || f["pool_id"] != e.pool.ID || !strings.Contains(f["actor"].(string), goldenARN) {
		t.Errorf("role_granted fields = %v", f)
	}
	var emf struct{ Kind, Role string }
	found := false
	for _, line := range strings.Split(strings.TrimSpace(metrics.String()), "\n") {
		if json.Unmarshal([]byte(line), &emf) == nil && emf.Kind == "role_granted" && emf.Role == "admin" && strings.Contains(line, `"SecurityEvents":1`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no role_granted/admin metric line in %q", metrics.String())
	}

	// The reconcile finds the removal first; the event arrives later.
	if _, err := e.direct.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: p, Username: aws.String("eve"), GroupName: aws.String("admins")}); err != nil {
		t.Fatal(err)
	}
	late := e.event("AdminRemoveUserFromGroup", sub, "admins") // stamped before the reconcile reads
	e.mustReconcile(idsync.Options{Repair: true})
	hist, _ = e.store.UserHistory(ctx, e.pool.ID, sub)
	if len(hist) != 3 || hist[2].Actor != idmirror.SyncActor() {
		t.Fatalf("after the reconcile: %d items, last actor %+v", len(hist), hist[len(hist)-1].Actor)
	}
	if o := handle(t, r, late); o != idsync.Unchanged {
		t.Fatalf("late event: %s", o)
	}
	hist, _ = e.store.UserHistory(ctx, e.pool.ID, sub)
	if len(hist) != 3 || hist[2].Actor.ARN != goldenARN || hist[2].Source != idmirror.SourceSync {
		t.Fatalf("after the late event: %d items, last %+v by %s", len(hist), hist[len(hist)-1].Actor, hist[len(hist)-1].Source)
	}

	var rows []audit.ChangeRow
	err = audit.New(e.store).Changes(ctx, idmirror.ChangeQuery{PoolID: e.pool.ID, From: hist[0].At}, "groups", "assumed-role/ops", func(r audit.ChangeRow) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil || len(rows) != 2 || rows[0].Actor != goldenARN || rows[0].SourceIP != goldenIP || rows[1].After != "" {
		t.Errorf("audit changes --actor assumed-role/ops = %+v, %v", rows, err)
	}
}
