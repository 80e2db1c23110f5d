package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/mirror/memmirror"
	"github.com/idmirror/idmirror/mirror/mirrortest"
)

// TestSameAnswersAsMemmirror applies one random sequence of observations —
// late, repeated, partial, tombstones and re-creations, several pools — to
// mirror.Store on DynamoDB Local and to memmirror.Store, and asks both every
// question after it: the two stores must give the same outcomes, the same
// errors and the same answers (the in-memory store stands in for this one in
// the tests of sync, restore, audit and the model test).
var diffSeed = uint64(20261129)

func TestSameAnswersAsMemmirror(t *testing.T) {
	db := testenv.DynamoDB(t)
	ddb := mirror.New(db, testenv.NewTable(t, db), nil)
	mem := memmirror.New()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(diffSeed, 1))
	pools := []string{"pool-a", "pool-b"}
	subs := []string{"s1", "s2", "s3", "s4"}
	groups := []string{"admins", "operators", "staff", "auditors"}
	sources := []idmirror.Source{idmirror.SourceTrigger, idmirror.SourceSync, idmirror.SourceEvent, idmirror.SourceRestore}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	when := func() time.Time {
		t := at(rng.IntN(120))
		if rng.IntN(4) == 0 {
			t = t.Add(time.Duration(rng.IntN(3)) * time.Nanosecond)
		}
		return t
	}
	var instants []time.Time
	same := func(what string, o1, o2 idmirror.Outcome, e1, e2 error) {
		t.Helper()
		if o1 != o2 || (e1 == nil) != (e2 == nil) || errors.Is(e1, idmirror.ErrNotFound) != errors.Is(e2, idmirror.ErrNotFound) ||
			errors.Is(e1, idmirror.ErrInvalid) != errors.Is(e2, idmirror.ErrInvalid) {
			t.Fatalf("%s: dynamodb %v, %v; memory %v, %v", what, o1, e1, o2, e2)
		}
	}
	const steps = 250
	for i := range steps {
		w := when()
		instants = append(instants, w)
		src := sources[rng.IntN(len(sources))]
		pool := pick(pools)
		switch r := rng.IntN(20); {
		case r < 15:
			u := idmirror.User{PoolID: pool, Sub: pick(subs), Username: pick([]string{"", "alice", "bob", "carol"}),
				Attributes: map[string]string{"email": pick([]string{"", "A@x.example", "a@x.example", "b@x.example"})},
				Status:     pick([]string{"CONFIRMED", "UNCONFIRMED", "RESET_REQUIRED"}), Enabled: rng.IntN(2) == 0,
				MFA: idmirror.MFA{SMSEnabled: rng.IntN(3) == 0}, Origin: pick([]string{"", "old/sub"})}
			if rng.IntN(2) == 0 {
				u.Attributes["custom:tenant"] = pick([]string{"t1", "t2"})
			}
			for _, g := range groups {
				if rng.IntN(3) == 0 {
					u.Groups = append(u.Groups, g)
				}
			}
			if rng.IntN(3) == 0 {
				u.Created, u.Modified = at(-60), w
			}
			uw := idmirror.UserWrite{User: u, At: w, Source: src, SourceTime: w.Add(-time.Second), Note: fmt.Sprint("step ", i)}
			for _, fg := range idmirror.FieldClocks {
				if rng.IntN(2) == 0 {
					uw.Fields |= fg.Field
				}
			}
			if rng.IntN(8) == 0 {
				uw.Delete = true
			}
			if uw.Fields == 0 && !uw.Delete {
				uw.Fields = idmirror.AllFields
			}
			o1, e1 := ddb.PutUser(ctx, uw)
			o2, e2 := mem.PutUser(ctx, uw)
			same(fmt.Sprintf("step %d: %+v", i, uw), o1, o2, e1, e2)
		case r < 18:
			prec := int32(rng.IntN(3))
			g := idmirror.Group{PoolID: pool, Name: pick(groups), Description: pick([]string{"", "d1", "d2"}), Precedence: &prec}
			gw := idmirror.GroupWrite{Group: g, Delete: rng.IntN(5) == 0, At: w, Source: src}
			o1, e1 := ddb.PutGroup(ctx, gw)
			o2, e2 := mem.PutGroup(ctx, gw)
			same(fmt.Sprintf("step %d: %+v", i, gw), o1, o2, e1, e2)
		case r < 19:
			cfg := idmirror.PoolConfig{PoolID: pool, Name: "n", MFA: pick([]string{"OFF", "OPTIONAL"}), UsernameAttributes: []string{"email"}}
			o1, e1 := ddb.PutPoolConfig(ctx, cfg, w, src)
			o2, e2 := mem.PutPoolConfig(ctx, cfg, w, src)
			same(fmt.Sprintf("step %d: config", i), o1, o2, e1, e2)
		default:
			rm := idmirror.DefaultRoleMap()
			if rng.IntN(2) == 0 {
				rm.Roles = rm.Roles[:1]
			}
			o1, e1 := ddb.PutRoleMap(ctx, pool, rm, w, src)
			o2, e2 := mem.PutRoleMap(ctx, pool, rm, w, src)
			same(fmt.Sprintf("step %d: role map", i), o1, o2, e1, e2)
		}
	}
	// Ask as of every observation instant would take minutes on the
	// emulator; a sample of them (and their neighbours) finds the same.
	var asked []time.Time
	for i, in := range instants {
		if i%12 == 0 {
			asked = append(asked, in.Add(-time.Nanosecond), in, in.Add(time.Nanosecond))
		}
	}
	instants = append(asked, at(-1), at(200), time.Time{})
	for _, pool := range pools {
		compareStores(t, ddb, mem, pool, subs, groups, instants)
	}

	// A user in 100 groups: mirror.Store writes the intervals past one
	// transaction right after it; memmirror all at once. Same intervals.
	var many []string
	for i := range 150 {
		many = append(many, fmt.Sprintf("g%03d", i))
	}
	u := idmirror.User{PoolID: "pool-c", Sub: "s1", Username: "many", Groups: many[:100]}
	writes := []idmirror.UserWrite{
		{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync},
		{User: idmirror.User{PoolID: "pool-c", Sub: "s1", Groups: many[50:]}, Fields: idmirror.FieldGroups, At: at(2), Source: idmirror.SourceEvent},
		{User: idmirror.User{PoolID: "pool-c", Sub: "s1"}, Delete: true, At: at(3), Source: idmirror.SourceSync},
	}
	for i, w := range writes {
		o1, e1 := ddb.PutUser(ctx, w)
		o2, e2 := mem.PutUser(ctx, w)
		same(fmt.Sprintf("many groups, write %d", i), o1, o2, e1, e2)
	}
	compareStores(t, ddb, mem, "pool-c", []string{"s1"}, many, []time.Time{{}, at(1), at(2)})
}

// compareStores asks both stores every question about the pool.
func compareStores(t *testing.T, a, b mirrortest.Store, pool string, subs, groups []string, instants []time.Time) {
	t.Helper()
	ctx := context.Background()
	eq := func(what string, x, y any, ex, ey error) {
		t.Helper()
		if (ex == nil) != (ey == nil) || errors.Is(ex, idmirror.ErrNotFound) != errors.Is(ey, idmirror.ErrNotFound) {
			t.Errorf("%s: errors differ: dynamodb %v; memory %v", what, ex, ey)
			return
		}
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s differs:\ndynamodb %#v\n  memory %#v", what, x, y)
		}
	}
	for _, sub := range subs {
		u1, e1 := a.GetUser(ctx, pool, sub)
		u2, e2 := b.GetUser(ctx, pool, sub)
		eq("GetUser "+sub, u1, u2, e1, e2)
		h1, e1 := a.UserHistory(ctx, pool, sub)
		h2, e2 := b.UserHistory(ctx, pool, sub)
		eq("UserHistory "+sub, h1, h2, e1, e2)
		for _, in := range instants {
			u1, e1 := a.UserAsOf(ctx, pool, sub, in)
			u2, e2 := b.UserAsOf(ctx, pool, sub, in)
			eq(fmt.Sprintf("UserAsOf %s %v", sub, in), u1, u2, e1, e2)
		}
	}
	for _, name := range []string{"alice", "bob", "carol", ""} {
		f1, e1 := a.FindByUsername(ctx, pool, name)
		f2, e2 := b.FindByUsername(ctx, pool, name)
		eq("FindByUsername "+name, bySub(f1), bySub(f2), e1, e2)
	}
	for _, email := range []string{"a@X.example", "b@x.example", ""} {
		f1, e1 := a.FindByEmail(ctx, pool, email)
		f2, e2 := b.FindByEmail(ctx, pool, email)
		eq("FindByEmail "+email, bySub(f1), bySub(f2), e1, e2)
	}
	for _, g := range groups {
		for _, in := range instants {
			m1, e1 := a.Members(ctx, pool, g, in)
			m2, e2 := b.Members(ctx, pool, g, in)
			eq(fmt.Sprintf("Members %s %v", g, in), m1, m2, e1, e2)
		}
		r1, e1 := a.GetGroup(ctx, pool, g)
		r2, e2 := b.GetGroup(ctx, pool, g)
		eq("GetGroup "+g, r1, r2, e1, e2)
		h1, e1 := a.GroupHistory(ctx, pool, g)
		h2, e2 := b.GroupHistory(ctx, pool, g)
		eq("GroupHistory "+g, h1, h2, e1, e2)
		for _, in := range instants {
			g1, e1 := a.GroupAsOf(ctx, pool, g, in)
			g2, e2 := b.GroupAsOf(ctx, pool, g, in)
			eq(fmt.Sprintf("GroupAsOf %s %v", g, in), g1, g2, e1, e2)
		}
	}
	gs1, e1 := a.Groups(ctx, pool)
	gs2, e2 := b.Groups(ctx, pool)
	eq("Groups", gs1, gs2, e1, e2)
	c1, m1, e1 := a.PoolConfig(ctx, pool)
	c2, m2, e2 := b.PoolConfig(ctx, pool)
	eq("PoolConfig", []any{c1, m1}, []any{c2, m2}, e1, e2)
	for _, in := range instants {
		r1, e1 := a.RoleMapAsOf(ctx, pool, in)
		r2, e2 := b.RoleMapAsOf(ctx, pool, in)
		eq(fmt.Sprintf("RoleMapAsOf %v", in), r1, r2, e1, e2)
	}
	for _, src := range []idmirror.Source{"", idmirror.SourceSync} {
		for _, win := range [][2]time.Time{{at(-10), at(200)}, {at(30), at(60)}, {at(45), at(45)}} {
			var l1, l2 []idmirror.Change
			e1 := a.Changes(ctx, idmirror.ChangeQuery{PoolID: pool, From: win[0], To: win[1], Source: src}, func(c idmirror.Change) error { l1 = append(l1, c); return nil })
			e2 := b.Changes(ctx, idmirror.ChangeQuery{PoolID: pool, From: win[0], To: win[1], Source: src}, func(c idmirror.Change) error { l2 = append(l2, c); return nil })
			eq(fmt.Sprintf("Changes %s %v", src, win), versionTies(l1), versionTies(l2), e1, e2)
		}
	}
	for _, asOf := range []time.Time{{}, at(30), at(90)} {
		x1, e1 := export(a, pool, asOf)
		x2, e2 := export(b, pool, asOf)
		eq(fmt.Sprintf("ExportUsers as of %v", asOf), x1, x2, e1, e2)
	}
}

// versionTies orders the changes of one entity observed at the same instant
// by version. The byDay index leaves their order open (they share its sort
// key, <observedAt>#<pk>): DynamoDB Local returns them in no fixed order,
// memmirror by version.
func versionTies(cs []idmirror.Change) []idmirror.Change {
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[j].At.Equal(cs[i].At) && cs[j].Kind == cs[i].Kind && cs[j].Key == cs[i].Key {
			j++
		}
		run := cs[i:j]
		sort.Slice(run, func(a, b int) bool { return run[a].Version < run[b].Version })
		i = j
	}
	return cs
}

func bySub(rs []idmirror.UserRecord) []idmirror.UserRecord {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Sub < rs[j].Sub })
	return rs
}

func export(s mirrortest.Store, pool string, asOf time.Time) ([]idmirror.UserRecord, error) {
	ch := make(chan idmirror.UserRecord, 64)
	done := make(chan []idmirror.UserRecord)
	go func() {
		var out []idmirror.UserRecord
		for r := range ch {
			out = append(out, r)
		}
		done <- out
	}()
	err := s.ExportUsers(context.Background(), pool, idmirror.ExportOptions{Segments: 3, AsOf: asOf}, func(r idmirror.UserRecord) error {
		ch <- r
		return nil
	})
	close(ch)
	return bySub(<-done), err
}
