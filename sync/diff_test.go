package sync

import (
	"fmt"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
)

func TestDiffUser(t *testing.T) {
	t1, t2 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 9, 1, 0, 0, time.UTC)
	pool := idmirror.User{PoolID: "p", Sub: "s", Username: "ann", Attributes: map[string]string{"email": "a@x"},
		Status: "CONFIRMED", Enabled: true, Groups: []string{"admins"}}
	mirrored := pool
	for _, c := range []struct {
		name   string
		cur    *idmirror.User
		kind   string
		fields []string
	}{
		{"missing", nil, UserMissing, []string{"email", "enabled", "groups", "status", "username"}},
		{"in sync", &mirrored, "", nil},
		{"groups changed behind the mirror", func() *idmirror.User { u := mirrored; u.Groups = nil; return &u }(), UserChanged, []string{"groups"}},
		{"disabled behind the mirror", func() *idmirror.User { u := mirrored; u.Enabled = false; return &u }(), UserChanged, []string{"enabled"}},
		// MFA is not listed by ListUsers: a reconcile without --deep never reports it.
		{"mfa not observed", func() *idmirror.User { u := mirrored; u.MFA.SMSEnabled = true; return &u }(), "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := diffUser(c.cur, listedWrites(pool, t1, t2))
			if c.kind == "" {
				if d != nil {
					t.Fatalf("drift %+v, want none", d)
				}
				return
			}
			if d == nil || d.Kind != c.kind || d.Key != "s" || d.Name != "ann" {
				t.Fatalf("drift %+v, want kind %s", d, c.kind)
			}
			var got []string
			for k := range d.Fields {
				got = append(got, k)
			}
			if s := fmt.Sprint(idmirror.SortedUnique(got)); s != fmt.Sprint(c.fields) {
				t.Fatalf("fields %s, want %v", s, c.fields)
			}
		})
	}
}
