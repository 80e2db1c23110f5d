package memmirror

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
)

var r0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// A write that lost the race between its read and its commit is merged
// again from the new state, not committed over it (the optimistic version
// check the DynamoDB store's condition expression makes).
func TestLostRaceIsMergedAgain(t *testing.T) {
	s, ctx := New(), context.Background()
	u := idmirror.User{PoolID: "p", Sub: "s", Username: "u", Attributes: map[string]string{"email": "a@x"}, Groups: []string{"admins"}}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: r0, Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	// While the groups write is between its read and its commit, another
	// writer changes the attributes.
	attempts := 0
	s.beforeCommit = func() {
		attempts++
		if attempts != 1 {
			return
		}
		s.beforeCommit = nil
		v := u
		v.Attributes = map[string]string{"email": "b@x"}
		if _, err := s.PutUser(ctx, idmirror.UserWrite{User: v, Fields: idmirror.FieldAttributes, At: r0.Add(2 * time.Second), Source: idmirror.SourceEvent}); err != nil {
			t.Error(err)
		}
		s.beforeCommit = func() { attempts++ }
	}
	g := u
	g.Groups = []string{"operators"}
	if o, err := s.PutUser(ctx, idmirror.UserWrite{User: g, Fields: idmirror.FieldGroups, At: r0.Add(time.Second), Source: idmirror.SourceSync}); err != nil || o != idmirror.Changed {
		t.Fatalf("groups write: %v, %v", o, err)
	}
	if attempts != 2 {
		t.Fatalf("the groups write committed after %d attempts, want 2 (one lost race)", attempts)
	}
	got, _ := s.GetUser(ctx, "p", "s")
	if got.Email() != "b@x" || len(got.Groups) != 1 || got.Groups[0] != "operators" || got.Version != 3 {
		t.Fatalf("lost an update: %+v", got)
	}
	// The groups write came late (+1s after +2s): its history item holds the
	// state as of +1s, and the later item was patched.
	h, _ := s.UserHistory(ctx, "p", "s")
	if len(h) != 3 || h[1].State.Email() != "a@x" || h[1].State.Groups[0] != "operators" || h[2].State.Groups[0] != "operators" {
		t.Fatalf("history: %+v", h)
	}
}

// A writer that keeps losing gives up with ErrConflict after MaxAttempts.
func TestConflictAfterMaxAttempts(t *testing.T) {
	s, ctx := New(), context.Background()
	s.MaxAttempts = 3
	u := idmirror.User{PoolID: "p", Sub: "s", Username: "u"}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: r0, Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	tick := 0
	s.beforeCommit = func() {
		// Bump the version behind the writer's back every time.
		s.mu.Lock()
		s.pools["p"].users["s"].rec.Version += 100
		s.mu.Unlock()
		tick++
	}
	u.Status = "CONFIRMED"
	_, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldStatus, At: r0.Add(time.Second), Source: idmirror.SourceSync})
	if !errors.Is(err, idmirror.ErrConflict) || tick != 3 {
		t.Fatalf("err = %v after %d attempts, want ErrConflict after 3", err, tick)
	}
}
