package mirrortest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror"
)

// intents: restore's intents are one per target pool and username, replaced
// whole, absent until recorded; a bad intent is refused.
func intents(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Intent(ctx, "pool", "alice"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("no intent yet: %v", err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	in := mirror.Intent{Pool: "pool", Username: "alice", Origin: "old/sub-1", Attributes: map[string]string{"email": "a@x"}, At: at}
	if err := s.PutIntent(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.Intent(ctx, "pool", "alice")
	want := in
	want.At = at.UTC()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("intent = %+v, %v; want %+v", got, err, want)
	}
	in.Sub, in.Modified, in.Reset, in.ResetAt, in.PasswordModified, in.Attributes = "sub-2", at.Add(time.Second), true, at.Add(2*time.Second), at.Add(3*time.Second), nil
	if err := s.PutIntent(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Intent(ctx, "pool", "alice")
	if got.Sub != "sub-2" || !got.Reset || !got.Modified.Equal(at.Add(time.Second)) || !got.PasswordModified.Equal(at.Add(3*time.Second)) || got.Attributes != nil {
		t.Fatalf("replaced intent = %+v", got)
	}
	if _, err := s.Intent(ctx, "other", "alice"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("another pool's intent: %v", err)
	}
	for _, bad := range []mirror.Intent{{Username: "a", Origin: "o", At: at}, {Pool: "p", Username: "a", At: at}, {Pool: "p", Username: "a", Origin: "o"}} {
		if err := s.PutIntent(ctx, bad); !errors.Is(err, idmirror.ErrInvalid) {
			t.Fatalf("invalid intent %+v: %v", bad, err)
		}
	}
}
