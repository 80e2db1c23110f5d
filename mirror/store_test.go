package mirror_test

import (
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/mirror/mirrortest"
)

var _ mirrortest.Store = (*mirror.Store)(nil)

// TestStore runs the stores' conformance suite (mirror/mirrortest) on
// DynamoDB Local, a fresh table per case. Without the emulator it fails
// under make test (IDMIRROR_REQUIRE_EMULATORS=1) and skips, once, elsewhere.
func TestStore(t *testing.T) {
	db := testenv.DynamoDB(t)
	mirrortest.Run(t, func(t *testing.T) mirrortest.Store {
		return mirror.New(db, testenv.NewTable(t, db), zaptest.NewLogger(t))
	})
}

// Helpers of the golden test (golden_test.go).

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func alice(pool string) idmirror.User {
	return idmirror.User{PoolID: pool, Sub: "sub-alice", Username: "alice",
		Attributes: map[string]string{"email": "Alice@Example.com", "custom:tenant": "t1"},
		Status:     "CONFIRMED", Enabled: true, Groups: []string{"admins"}}
}
