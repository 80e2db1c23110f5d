package sync_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/security"
	idsync "github.com/idmirror/idmirror/sync"
)

// The reconcile's metrics: drift counts changes behind the mirror's back,
// not the configuration fields a new version starts recording; the safety
// valve raises mass_deletion_stopped.
func TestReconcileAlerts(t *testing.T) {
	fc := func(b, a string) idmirror.FieldChange { return idmirror.FieldChange{Before: b, After: a} }
	rep := &idsync.Report{PoolID: "p", FinishedAt: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC), Drift: []idsync.Drift{
		{Kind: idsync.UserChanged, Key: "s1", Fields: map[string]idmirror.FieldChange{"groups": fc("", "admins")}},
		{Kind: idsync.ConfigChanged, Key: "config", Fields: map[string]idmirror.FieldChange{"password_policy": fc("", "min=12"), "tier": fc("", "ESSENTIALS")}},
		{Kind: idsync.UserGone, Key: "s2"}, {Kind: idsync.UserGone, Key: "s3"},
	}, Failed: []idsync.Failure{{Sub: "s4"}}, Refused: "3 of 4 mirrored users are gone"}
	drift, newly := rep.RealDrift()
	if drift != 3 || newly != 2 {
		t.Errorf("RealDrift = %d, %d; want 3 (a user change, two users gone), 2 (newly recorded config fields)", drift, newly)
	}
	rep.Drift = append(rep.Drift, idsync.Drift{Kind: idsync.ConfigChanged, Key: "config", Fields: map[string]idmirror.FieldChange{"mfa": fc("OFF", "ON"), "tier": fc("", "PLUS")}})
	if drift, newly = rep.RealDrift(); drift != 4 || newly != 3 {
		t.Errorf("with an MFA change: %d, %d; want 4, 3", drift, newly)
	}

	core, logs := observer.New(zap.InfoLevel)
	var metrics bytes.Buffer
	idsync.Alert(security.New(zap.New(core), &metrics, "reconcile"), &metrics, rep)
	if got := logs.FilterField(zap.String(security.FieldEvent, string(security.MassDeletionStopped))).All(); len(got) != 1 || got[0].ContextMap()["count"] != int64(2) {
		t.Errorf("mass_deletion_stopped events = %v", logs.All())
	}
	var line map[string]any
	lines := bytes.Split(bytes.TrimSpace(metrics.Bytes()), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &line); err != nil {
		t.Fatal(err)
	}
	if line[idsync.MetricDrift] != float64(4) || line[idsync.MetricFailedUsers] != float64(1) || line[idsync.MetricSafetyValve] != float64(1) || line[idsync.MetricNewlyRecorded] != float64(3) || line["Function"] != "reconcile" {
		t.Errorf("reconcile metrics = %v", line)
	}
}
