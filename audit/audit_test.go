package audit_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/mirror/memmirror"
)

var t0 = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return t0.Add(time.Duration(d * 24 * float64(time.Hour))) }

// history builds a mirror with grants, revocations, a deletion, a role-map
// change and a restore, at known instants.
// store is what the history is written to: the DynamoDB mirror or the
// in-memory one (the same audit answers are asked of both).
type store interface {
	audit.Mirror
	PutUser(context.Context, idmirror.UserWrite) (idmirror.Outcome, error)
	PutRoleMap(context.Context, string, idmirror.RoleMap, time.Time, idmirror.Source) (idmirror.Outcome, error)
}

// eachStore runs test on an auditor of the history kept in memory (no
// emulator) and in DynamoDB Local.
func eachStore(t *testing.T, test func(t *testing.T, a *audit.Auditor)) {
	t.Run("memory", func(t *testing.T) { test(t, history(t, memmirror.New())) })
	t.Run("dynamodb", func(t *testing.T) {
		db := testenv.DynamoDB(t)
		test(t, history(t, mirror.New(db, testenv.NewTable(t, db), nil)))
	})
}

func history(t *testing.T, s store) *audit.Auditor {
	t.Helper()
	ctx := context.Background()
	must := func(_ idmirror.Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutRoleMap(ctx, "p", idmirror.DefaultRoleMap(), day(0), idmirror.SourceSync))
	// From day 20 the "root" group also grants admin.
	must(s.PutRoleMap(ctx, "p", idmirror.RoleMap{Roles: []idmirror.Role{
		{Name: "admin", Groups: []string{"admins", "root"}}, {Name: "operator", Groups: []string{"operators"}}}}, day(20), idmirror.SourceSync))
	user := func(name string, groups ...string) idmirror.User {
		return idmirror.User{PoolID: "p", Sub: "sub-" + name, Username: name, Status: "CONFIRMED", Enabled: true, Groups: groups,
			Attributes: map[string]string{"email": name + "@example.com", "custom:tenant": "t1"}}
	}
	w := func(u idmirror.User, d float64, src idmirror.Source, del bool) {
		t.Helper()
		must(s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: day(d), Source: src, Delete: del}))
	}
	w(user("ann", "admins"), 1, idmirror.SourceTrigger, false)
	w(user("bob", "operators"), 2, idmirror.SourceTrigger, false)
	w(user("bob", "operators", "admins"), 10, idmirror.SourceEvent, false) // grant
	w(user("cat", "root"), 15, idmirror.SourceSync, false)
	w(user("ann"), 30, idmirror.SourceEvent, false)                      // revocation
	w(user("bob", "operators", "admins"), 40, idmirror.SourceSync, true) // deletion
	must(s.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: "p", Sub: "sub-bob2", Username: "bob", Status: "FORCE_CHANGE_PASSWORD",
		Enabled: true, Groups: []string{"admins", "operators"}, Attributes: map[string]string{"email": "bob@example.com"}, Origin: "p/sub-bob"},
		Fields: idmirror.AllFields | idmirror.FieldOrigin, At: day(41), Source: idmirror.SourceRestore}))
	return audit.New(s)
}

func names(rows []audit.Member) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Username+"/"+r.Group)
	}
	return out
}

func TestMembersAsOf(t *testing.T) {
	eachStore(t, func(t *testing.T, a *audit.Auditor) {
		ctx := context.Background()
		for _, c := range []struct {
			d    float64
			role string
			want []string
		}{
			{0.5, "admin", nil},
			{5, "admin", []string{"ann/admins"}},
			{12, "admin", []string{"ann/admins", "bob/admins"}},
			{16, "admin", []string{"ann/admins", "bob/admins"}},             // cat's root does not grant admin yet
			{25, "admin", []string{"ann/admins", "bob/admins", "cat/root"}}, // it does from day 20
			{35, "admin", []string{"bob/admins", "cat/root"}},               // ann revoked on day 30
			{40.5, "admin", []string{"cat/root"}},                           // bob deleted on day 40
			{45, "admin", []string{"bob/admins", "cat/root"}},               // bob restored on day 41
			{45, "operator", []string{"bob/operators"}},
		} {
			rows, _, err := a.Members(ctx, audit.MembersQuery{PoolID: "p", Role: c.role, AsOf: day(c.d)})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(rows); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s as of day %.1f = %v, want %v", c.role, c.d, got, c.want)
			}
		}
		now, _, _ := a.Members(ctx, audit.MembersQuery{PoolID: "p", Group: "admins"})
		if len(now) != 1 || now[0].Sub != "sub-bob2" || now[0].Since != day(41).Format(time.RFC3339Nano) || now[0].GrantedBy != "restore" || now[0].Email != "bob@example.com" {
			t.Fatalf("admins now = %+v", now)
		}
		then, _, _ := a.Members(ctx, audit.MembersQuery{PoolID: "p", Group: "admins", AsOf: day(12)})
		if len(then) != 2 || then[0].Until != day(30).Format(time.RFC3339Nano) {
			t.Fatalf("admins on day 12 = %+v (ann's membership ended on day 30)", then)
		}
		if _, _, err := a.Members(ctx, audit.MembersQuery{PoolID: "p", Role: "nosuch"}); err == nil {
			t.Fatal("an unknown role must be an error")
		}
	})
}

func TestUserAndChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, a *audit.Auditor) {
		ctx := context.Background()
		for _, who := range []string{"bob", "sub-bob2", "BOB@example.com"} {
			v, err := a.FindUser(ctx, "p", who, true)
			if err != nil || v.Record.Sub != "sub-bob2" || v.Record.Origin != "p/sub-bob" || len(v.History) != 1 {
				t.Fatalf("FindUser(%s) = %+v, %v", who, v.Record, err)
			}
		}
		v, _ := a.FindUser(ctx, "p", "sub-bob", true)
		if !v.Record.Deleted || len(v.History) != 3 {
			t.Fatalf("the deleted bob: %+v, %d history items", v.Record, len(v.History))
		}

		var rows []string
		err := a.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: day(5), To: day(35)}, "groups", "", func(r audit.ChangeRow) error {
			rows = append(rows, fmt.Sprintf("%s %s %s %q->%q", r.Time[:10], r.Name, r.Source, r.Before, r.After))
			return nil
		})
		want := []string{
			`2026-04-11 bob event "operators"->"admins,operators"`,
			`2026-04-16 cat sync ""->"root"`,
			`2026-05-01 ann event "admins"->""`,
		}
		if err != nil || !reflect.DeepEqual(rows, want) {
			t.Fatalf("group changes days 5–35 =\n%v, want\n%v (%v)", rows, want, err)
		}
		var restores int
		a.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: day(0), Source: idmirror.SourceRestore}, "", "", func(r audit.ChangeRow) error {
			restores++
			return nil
		})
		if restores == 0 {
			t.Fatal("the restore left no change rows")
		}
	})
}

func TestExportAsOf(t *testing.T) {
	eachStore(t, func(t *testing.T, a *audit.Auditor) {
		ctx := context.Background()
		collect := func(at time.Time) map[string]string {
			out := map[string]string{}
			if err := a.Export(ctx, "p", at, func(r audit.ExportRow) error {
				out[r.Sub] = fmt.Sprintf("%s deleted=%v groups=%v roles=%v", r.Username, r.Deleted, r.Groups, r.Roles)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		got := collect(day(25))
		want := map[string]string{
			"sub-ann": "ann deleted=false groups=[admins] roles=[admin]",
			"sub-bob": "bob deleted=false groups=[admins operators] roles=[admin operator]",
			"sub-cat": "cat deleted=false groups=[root] roles=[admin]",
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("export as of day 25 =\n%v\nwant\n%v", got, want)
		}
		if now := collect(time.Time{}); len(now) != 4 || now["sub-bob"] != "bob deleted=true groups=[admins operators] roles=[]" {
			t.Fatalf("export now = %v", now)
		}
	})
}
