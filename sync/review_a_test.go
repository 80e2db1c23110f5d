package sync_test

import (
	"context"
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

// REVIEW-A #1: a user the reconcile finds for the first time, already in
// admins (created and granted behind the mirror's back, its CloudTrail
// events lost or not yet delivered), must raise role_granted: the reconcile
// is the backstop. The groups observation is stamped membersAt, earlier than
// the listing page that first created the user, so MergeUser takes the
// "late, no history as of At" (Recount) path, which writes no history item
// and notifies no observer.
func TestReviewA_ReconcileFindsNewAdminRaisesGrant(t *testing.T) {
	e := newEnv(t, "admins")
	core, logs := observer.New(zap.InfoLevel)
	e.store.Observe(security.Watch(security.New(zap.New(core), nil, "reconcile"), idmirror.DefaultRoleMap()))
	sub := e.createUser("mallory", "email", "mallory@example.com")
	e.addToGroup("mallory", "admins")
	e.mustReconcile(idsync.Options{Repair: true})

	rec, err := e.store.GetUser(context.Background(), e.pool.ID, sub)
	if err != nil || len(rec.Groups) != 1 || rec.Groups[0] != "admins" {
		t.Fatalf("mirrored mallory: %+v, %v", rec, err)
	}
	grants := logs.FilterField(zap.String(security.FieldEvent, string(security.RoleGranted))).All()
	if len(grants) != 1 {
		t.Errorf("role_granted events for a new admin found by the reconcile = %d, want 1", len(grants))
	}
	// audit user: who granted admins? The grant's instant (membersAt) has
	// no history item, so the answer is empty.
	v, err := audit.New(e.store).FindUser(context.Background(), e.pool.ID, sub, false)
	if err != nil || len(v.Grants) != 1 {
		t.Fatalf("audit user: %+v, %v", v.Grants, err)
	}
	if v.Grants[0].Source == "" || v.Grants[0].Actor.IsZero() {
		t.Errorf("audit user: the admins grant has no source/actor: %+v", v.Grants[0])
	}
}

// REVIEW-A #2: the refresher re-reads the whole user and records every
// difference with the actor of whatever event it is handling. An attacker's
// grant that lands before another caller's unrelated event is processed is
// recorded as that caller's; when the attacker's own event arrives the item
// is "explained" already, so the attacker's ARN is never attached. audit
// user then says the legitimate admin granted admins.
func TestReviewA_UnrelatedEventTakesCreditForGrant(t *testing.T) {
	e := newEnv(t, "admins")
	ctx := context.Background()
	sub := e.createUser("victim", "email", "victim@example.com")
	r := e.refresher()
	if o := handle(t, r, e.event("AdminCreateUser", sub, "")); o != idsync.Refreshed {
		t.Fatalf("create: %s", o)
	}
	// The attacker (another principal) grants admins; meanwhile the ops admin
	// edits an attribute of the same user (an event stamped before the grant).
	const attacker = "arn:aws:sts::111122223333:assumed-role/stolen/attacker"
	opsEvent := e.event("AdminUpdateUserAttributes", sub, "")
	e.addToGroup("victim", "admins")
	grantEvent := []byte(strings.ReplaceAll(string(e.event("AdminAddUserToGroup", sub, "admins")), goldenARN, attacker))

	handle(t, r, opsEvent)   // processed first (EventBridge does not order)
	handle(t, r, grantEvent) // unchanged: tries to explain, finds the item "explained"

	hist, err := e.store.UserHistory(ctx, e.pool.ID, sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hist {
		if fc, ok := h.Fields["groups"]; ok && strings.Contains(fc.After, "admins") {
			if h.Actor.ARN != attacker {
				t.Errorf("the grant of admins is attributed to %q (detail %q), want the attacker %q", h.Actor.ARN, h.Actor.Detail, attacker)
			}
		}
	}
}

// Review A #3: ops grants and revokes (both events lost for now), someone
// else grants again and only the reconcile sees it; the ops grant's event,
// redriven later, matches the reconcile's item: the same field, the same
// effect, observed after the call. Cognito keeps no membership dates, so
// the mirror cannot tell this history from "ops' grant, observed late": the
// attribution is recorded, and marked inferred (audit shows "(inferred from
// a late event)"), never as an observed fact. Redriven after
// MaxExplainDelay, or when a different change of the field was observed
// after the call, it attaches nothing.
func TestReviewA_LateEventExplainsALaterGrant(t *testing.T) {
	e := newEnv(t, "admins")
	ctx := context.Background()
	sub := e.createUser("victim", "email", "victim@example.com")
	r := e.refresher()
	if o := handle(t, r, e.event("AdminCreateUser", sub, "")); o != idsync.Refreshed {
		t.Fatalf("create: %s", o)
	}
	opsAdd := e.event("AdminAddUserToGroup", sub, "admins") // ops grants ...
	e.addToGroup("victim", "admins")
	e.removeFromGroup("victim", "admins") // ... and revokes; both events lost for now
	e.addToGroup("victim", "admins")      // someone else grants; only the reconcile sees it
	e.mustReconcile(idsync.Options{Repair: true})
	if o := handle(t, r, opsAdd); o != idsync.Unchanged { // the ops event, redriven from the DLQ
		t.Fatalf("late event: %s", o)
	}
	hist, _ := e.store.UserHistory(ctx, e.pool.ID, sub)
	last := hist[len(hist)-1]
	if fc := last.Fields["groups"]; fc.After != "admins" {
		t.Fatalf("last item %+v", last)
	}
	if last.Actor.ARN == goldenARN && !last.Actor.Inferred {
		t.Errorf("the reconcile's grant is attributed to ops as an observed fact: %+v", last.Actor)
	}
	if !strings.Contains(last.Actor.String(), "inferred") {
		t.Errorf("the inferred attribution does not say so: %q", last.Actor.String())
	}
}

func (e *env) removeFromGroup(user, group string) {
	e.t.Helper()
	if _, err := e.direct.AdminRemoveUserFromGroup(context.Background(), &cip.AdminRemoveUserFromGroupInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String(user), GroupName: aws.String(group)}); err != nil {
		e.t.Fatal(err)
	}
}
