package triggers_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/idmirror/idmirror/triggers"
)

var seeds = []string{
	"postconfirmation-signup.json", "postconfirmation-forgot-password.json", "postconfirmation-cognito-local.json",
	"pretoken-v1.json", "pretoken-v2.json", "pretoken-v3-admin.json", "pretoken-v3-client-credentials.json",
}

// Decoding never panics, and an accepted event always names a pool, a user and a sub.
func FuzzParsePostConfirmation(f *testing.F) {
	for _, s := range seeds {
		f.Add(golden(f, s))
	}
	f.Add([]byte(`{"request":{"userAttributes":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, _, err := triggers.ParsePostConfirmation(data)
		if err == nil && (u.PoolID == "" || u.Sub == "" || u.Username == "") {
			t.Fatalf("accepted an event without pool, sub or user: %q", data)
		}
	})
}

// The pre-token handler never panics, and whatever it accepts it answers with JSON.
func FuzzPreToken(f *testing.F) {
	for _, s := range seeds {
		f.Add(golden(f, s))
	}
	h := newPreToken(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := h.Invoke(context.Background(), data)
		if err == nil && !json.Valid(out) {
			t.Fatalf("answered invalid JSON %q for %q", out, data)
		}
	})
}
