package memmirror_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/mirror/memmirror"
	"github.com/idmirror/idmirror/mirror/mirrortest"
	"github.com/idmirror/idmirror/restore"
	idsync "github.com/idmirror/idmirror/sync"
	"github.com/idmirror/idmirror/triggers"
)

// The in-memory store is a drop-in for every consumer of the mirror.
var (
	_ idsync.Mirror       = (*memmirror.Store)(nil)
	_ restore.Mirror      = (*memmirror.Store)(nil)
	_ audit.Mirror        = (*memmirror.Store)(nil)
	_ triggers.UserWriter = (*memmirror.Store)(nil)
	_ mirrortest.Store    = (*memmirror.Store)(nil)
)

// TestConformance runs the stores' conformance suite (the same one
// mirror.Store passes on DynamoDB Local) on the in-memory store.
func TestConformance(t *testing.T) {
	mirrortest.Run(t, func(*testing.T) mirrortest.Store { return memmirror.New() })
}

var _ idmirror.IntegrityChecker = (*memmirror.Store)(nil)

// TestIntegrity runs the journal's conformance cases on the in-memory store.
func TestIntegrity(t *testing.T) {
	mirrortest.RunIntegrity(t, func(*testing.T) (mirrortest.IntegrityStore, mirrortest.Tamper) {
		s := memmirror.New()
		return s, mirrortest.Tamper{
			EditUserHistory: func(t *testing.T, pool, sub string, i int) (string, string) {
				return memmirror.EditUserHistory(t, s, pool, sub, i)
			},
			DeleteUserHistory: func(t *testing.T, pool, sub string, i int) (string, string) {
				return memmirror.DeleteUserHistory(t, s, pool, sub, i)
			},
			EditMembership: func(t *testing.T, pool, group, sub string) (string, string) {
				return memmirror.EditMembership(t, s, pool, group, sub)
			},
		}
	})
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// The suite accepts any error for a write over one transaction; the
// in-memory store names it, and writes nothing.
func TestTransactionTooLargeIsNamed(t *testing.T) {
	s, ctx := memmirror.New(), context.Background()
	u := idmirror.User{PoolID: "p", Sub: "s", Username: "u", Status: "CONFIRMED"}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	for i := range 99 {
		u.Attributes = map[string]string{"custom:seq": fmt.Sprint(i)}
		if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes, At: at(100 + i), Source: idmirror.SourceSync}); err != nil {
			t.Fatal(err)
		}
	}
	// Late: state + its history item + 99 later items patched = 101.
	u.Status = "RESET_REQUIRED"
	_, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldStatus, At: at(50), Source: idmirror.SourceSync})
	if !errors.Is(err, memmirror.ErrTransactionTooLarge) {
		t.Fatalf("101 items: %v, want ErrTransactionTooLarge", err)
	}
	if errors.Is(err, idmirror.ErrConflict) {
		t.Fatalf("a too large transaction is no conflict: %v", err)
	}
	if got, _ := s.GetUser(ctx, "p", "s"); got.Version != 100 || got.Status != "CONFIRMED" {
		t.Fatalf("a refused write left state: version %d, status %s", got.Version, got.Status)
	}
}

func TestCancelledContext(t *testing.T) {
	s := memmirror.New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u := idmirror.User{PoolID: "p", Sub: "s", Username: "u"}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync}); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutUser on a cancelled context: %v", err)
	}
	if err := s.ExportUsers(context.Background(), "p", idmirror.ExportOptions{}, func(idmirror.UserRecord) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(context.Background(), idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	if err := s.ExportUsers(ctx, "p", idmirror.ExportOptions{}, func(idmirror.UserRecord) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("ExportUsers on a cancelled context: %v", err)
	}
}
