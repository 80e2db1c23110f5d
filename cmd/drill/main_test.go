package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/idmirror/idmirror/drill"
)

// The EMF line carries the three metrics under the namespace and dimension
// the template's alarm watches.
func TestPublish(t *testing.T) {
	var b bytes.Buffer
	publish(&b, &drill.Report{Differences: 2, WallTime: 90 * time.Second}, drill.ErrDifferences, time.Unix(100, 0))
	publish(&b, &drill.Report{WallTime: time.Second}, nil, time.Unix(100, 0))
	publish(&b, nil, errors.New("no mirror"), time.Unix(100, 0))
	lines := bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
	want := []struct{ ok, diffs, secs float64 }{{0, 2, 90}, {1, 0, 1}, {0, 0, 0}}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		cw := m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if cw["Namespace"] != "idmirror" || m["Function"] != "drill" || m["DrillSucceeded"] != want[i].ok || m["DrillDifferences"] != want[i].diffs || m["DrillSeconds"] != want[i].secs {
			t.Fatalf("line %d: %s", i, l)
		}
	}
}
