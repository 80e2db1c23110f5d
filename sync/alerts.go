package sync

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/security"
)

// Reconcile metrics (CloudWatch EMF, namespace "idmirror", dimension
// Function): the identity stack alarms on them.
const (
	MetricDrift         = "ReconcileDrift"         // drift items found (something changed behind the mirror's back)
	MetricFailedUsers   = "ReconcileFailedUsers"   // users that could not be reconciled
	MetricSafetyValve   = "ReconcileSafetyValve"   // 1 when the valve refused to tombstone
	MetricNewlyRecorded = "ReconcileNewlyRecorded" // config fields first recorded after an upgrade (not drift)
)

// Alert reports a finished reconcile: its metrics as one EMF line on
// metrics, and a mass_deletion_stopped security event when the safety valve
// held tombstones back.
func Alert(e *security.Emitter, metrics io.Writer, rep *Report) {
	if rep == nil {
		return
	}
	drift, newly := rep.RealDrift()
	valve := 0
	if rep.Refused != "" {
		valve = 1
		e.Emit(security.Event{Kind: security.MassDeletionStopped, PoolID: rep.PoolID, Count: rep.count(UserGone), Source: string(idmirror.SourceSync),
			Actor: idmirror.SyncActor().String(), Detail: "the reconcile's safety valve refused to tombstone"})
	}
	line, err := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": rep.FinishedAt.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "idmirror",
				"Dimensions": [][]string{{"Function"}},
				"Metrics": []any{
					map[string]string{"Name": MetricDrift, "Unit": "Count"},
					map[string]string{"Name": MetricFailedUsers, "Unit": "Count"},
					map[string]string{"Name": MetricSafetyValve, "Unit": "Count"},
					map[string]string{"Name": MetricNewlyRecorded, "Unit": "Count"},
				},
			}},
		},
		"Function":          "reconcile",
		MetricDrift:         drift,
		MetricFailedUsers:   len(rep.Failed),
		MetricSafetyValve:   valve,
		MetricNewlyRecorded: newly,
	})
	if err == nil {
		_, _ = fmt.Fprintln(metrics, string(line))
	}
}

// RealDrift counts the drift items that are changes made behind the
// mirror's back, and apart the configuration fields the mirror records for
// the first time (a field this version of idmirror starts recording shows
// as a change from nothing; it is not drift).
func (rep *Report) RealDrift() (drift, newlyRecorded int) {
	for _, d := range rep.Drift {
		if d.Kind != ConfigChanged {
			drift++
			continue
		}
		real := false
		for f, fc := range d.Fields {
			if fc.Before == "" && NewlyRecordedConfigFields[f] {
				newlyRecorded++
				continue
			}
			real = true
		}
		if real {
			drift++
		}
	}
	return drift, newlyRecorded
}

// NewlyRecordedConfigFields names the configuration fields (PoolConfig.Fields)
// a release started recording; a change of one of them from nothing, in a
// configuration recorded before the mirror knew it, is not drift.
var NewlyRecordedConfigFields = map[string]bool{
	// Recorded since `idmirror pool create` (issue 16): what a new pool needs.
	"password_policy": true, "auto_verified": true, "sms_role_arn": true, "sms_external_id": true,
	"sms_region": true, "deletion_protection": true, "tier": true,
}

func (rep *Report) count(kind string) int {
	n := 0
	for _, d := range rep.Drift {
		if d.Kind == kind {
			n++
		}
	}
	return n
}
