package restore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// The mirror's history, written with explicit observation times, restored
// as of instants between the changes: each restore equals that instant.
func TestRestoreAsOf(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := testenv.Name("eu-west-1_SRC")
	e.source.ID = src // a pool that exists only in the mirror now
	t0 := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	must := func(_ idmirror.Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.store.PutPoolConfig(ctx, idmirror.PoolConfig{PoolID: src, Schema: []idmirror.SchemaAttribute{{Name: "custom:tenant", DataType: "String", Mutable: true}}}, at(0), idmirror.SourceSync))
	p1, p2 := int32(1), int32(2)
	must(e.store.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: src, Name: "admins", Description: "Admins v1", Precedence: &p1}, At: at(0), Source: idmirror.SourceSync}))
	must(e.store.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: src, Name: "operators", Precedence: &p2}, At: at(0), Source: idmirror.SourceSync}))
	must(e.store.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: src, Name: "admins", Description: "Admins v2", Precedence: &p1}, At: at(2), Source: idmirror.SourceEvent}))

	user := func(name, tenant string, enabled bool, groups ...string) idmirror.User {
		return idmirror.User{PoolID: src, Sub: "sub-" + name, Username: name, Status: "CONFIRMED", Enabled: enabled, Groups: groups,
			Attributes: map[string]string{"email": name + "@example.com", "custom:tenant": tenant}}
	}
	write := func(u idmirror.User, h float64, del bool) {
		t.Helper()
		must(e.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, Delete: del, At: at(h), Source: idmirror.SourceSync}))
	}
	write(user("cat", "t9", true), 0.5, false)
	write(user("ann", "t1", true, "admins"), 1, false)
	write(user("ann", "t2", true, "admins"), 2, false)
	write(user("bob", "t5", true, "operators"), 2.5, false)
	write(user("ann", "t2", false, "admins"), 3, false)
	write(user("cat", "t9", true), 3.5, true)
	write(user("ann", "t2", false, "operators"), 4, false)
	write(user("ann", "t2", false, "operators"), 5, true)

	desc := func(tenant string, enabled bool, groups ...string) string {
		return fmt.Sprintf("enabled=%v groups=%v attrs=[custom:tenant=%s email=%%s@example.com]", enabled, groups, tenant)
	}
	for _, c := range []struct {
		h      float64
		users  map[string]string
		admins string
	}{
		{1.5, map[string]string{"ann": desc("t1", true, "admins"), "cat": desc("t9", true)}, "Admins v1"},
		{2.7, map[string]string{"ann": desc("t2", true, "admins"), "bob": desc("t5", true, "operators"), "cat": desc("t9", true)}, "Admins v2"},
		{3.7, map[string]string{"ann": desc("t2", false, "admins"), "bob": desc("t5", true, "operators")}, "Admins v2"},
		{4.5, map[string]string{"ann": desc("t2", false, "operators"), "bob": desc("t5", true, "operators")}, "Admins v2"},
		{6, map[string]string{"bob": desc("t5", true, "operators")}, "Admins v2"},
	} {
		t.Run(fmt.Sprintf("as of +%.1fh", c.h), func(t *testing.T) {
			target := e.target()
			rep, _ := e.run(target.ID, restore.Options{AsOf: at(c.h)})
			if rep.Counts[restore.Failed] != 0 {
				t.Fatalf("counts %v", rep.Counts)
			}
			got, groups := snapshot(t, e.direct, target.ID)
			want := map[string]string{}
			for name, d := range c.users {
				want[name] = fmt.Sprintf(d, name)
			}
			compare(t, "user", want, got)
			if g := groups["admins"]; g != fmt.Sprintf("desc=%q prec=1 role=\"\"", c.admins) {
				t.Errorf("admins as of +%.1fh: %s", c.h, g)
			}
		})
	}
}
