package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/mirror/memmirror"
)

// A digest written and read back checks the same heads; one edited by hand is refused.
func TestDigestRoundTrip(t *testing.T) {
	s := memmirror.New()
	ctx := context.Background()
	at := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, pool := range []string{"p", "q"} {
		u := idmirror.User{PoolID: pool, Sub: "sub-a", Username: "a", Enabled: true, Groups: []string{"admins"}}
		if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync}); err != nil {
			t.Fatal(err)
		}
	}
	reps, err := audit.Integrity(ctx, s, "", nil)
	if err != nil || len(reps) != 2 || reps[0].Pool != "p" || reps[1].Pool != "q" {
		t.Fatalf("every pool, by pool: %+v %v", reps, err)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(audit.DigestOf("t", at, reps)); err != nil {
		t.Fatal(err)
	}
	d, err := audit.ReadDigest(bytes.NewReader(buf.Bytes()))
	if err != nil || d.Pools["p"].Digest != reps[0].Digest {
		t.Fatalf("read back: %+v %v", d, err)
	}
	// Only the pool asked for is checked against the digest.
	one, err := audit.Integrity(ctx, s, "q", &d)
	if err != nil || len(one) != 1 || one[0].Pool != "q" || len(one[0].Problems) != 0 {
		t.Fatalf("pool q against the digest: %+v %v", one, err)
	}
	forged := strings.Replace(buf.String(), reps[0].Digest, strings.Repeat("0", 64), 1)
	if _, err := audit.ReadDigest(strings.NewReader(forged)); !errors.Is(err, idmirror.ErrInvalid) {
		t.Fatalf("a digest that does not hash to itself: %v", err)
	}
	if _, err := audit.ReadDigest(strings.NewReader(`{"format":"something-else"}`)); !errors.Is(err, idmirror.ErrInvalid) {
		t.Fatalf("another format: %v", err)
	}
}
