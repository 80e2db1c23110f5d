package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/mirror/memmirror"
)

// Who granted X, and what did principal P change: the actor of each change
// is on its rows, --actor keeps one principal's, and the user view names
// who granted each current membership.
func TestActorsInChangesAndGrants(t *testing.T) {
	ctx := context.Background()
	s := memmirror.New()
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	ops := idmirror.Actor{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/ops/alice", SourceIP: "203.0.113.9"}
	mallory := idmirror.Actor{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/mallory", SourceIP: "198.51.100.66", AccessKeyID: "AKIAMALLORY"}
	u := idmirror.User{PoolID: "p", Sub: "s1", Username: "bob", Enabled: true, Groups: []string{"operators"}}
	writes := []idmirror.UserWrite{
		{User: u, Fields: idmirror.AllFields, At: t0, Source: idmirror.SourceEvent, Actor: ops},
	}
	u.Groups = []string{"admins", "operators"}
	writes = append(writes, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: t0.Add(time.Hour), Source: idmirror.SourceEvent, Actor: mallory})
	for _, w := range writes {
		if _, err := s.PutUser(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	a := audit.New(s)
	var rows []audit.ChangeRow
	err := a.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: t0, To: t0.Add(2 * time.Hour)}, "groups", "mallory", func(r audit.ChangeRow) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil || len(rows) != 1 {
		t.Fatalf("mallory's group changes = %+v, %v", rows, err)
	}
	r := rows[0]
	if r.Actor != mallory.ARN || r.SourceIP != "198.51.100.66" || r.After != "admins,operators" || r.ActorDetail == nil || r.ActorDetail.AccessKeyID != "AKIAMALLORY" {
		t.Errorf("row = %+v", r)
	}
	if v := r.Values(); v[len(v)-2] != mallory.ARN || v[len(v)-1] != "198.51.100.66" {
		t.Errorf("csv values = %v", v)
	}
	for _, q := range []string{"AKIAMALLORY", "user/mallory", "arn:aws:iam::111122223333:user/mallory"} {
		n := 0
		_ = a.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: t0}, "", q, func(audit.ChangeRow) error { n++; return nil })
		if n != 1 {
			t.Errorf("--actor %s: %d rows, want 1", q, n)
		}
	}

	v, err := a.FindUser(ctx, "p", "bob", false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]idmirror.Actor{"admins": mallory, "operators": ops}
	if len(v.Grants) != 2 {
		t.Fatalf("grants = %+v", v.Grants)
	}
	for _, g := range v.Grants {
		if g.Actor != want[g.Group] || g.Source != idmirror.SourceEvent {
			t.Errorf("grant of %s: %+v", g.Group, g)
		}
	}
}
