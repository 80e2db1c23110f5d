package verify_test

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/cognito/mempool"
	"github.com/idmirror/idmirror/mirror/memmirror"
	"github.com/idmirror/idmirror/restore"
	idsync "github.com/idmirror/idmirror/sync"
	"github.com/idmirror/idmirror/verify"
)

// restored: a source pool mirrored by sync, then restored (a real restore,
// recorded in the mirror) into a new pool.
func restored(t *testing.T, legacy string) (*mempool.Service, *memmirror.Store, string, string) {
	t.Helper()
	ctx := context.Background()
	svc, store := mempool.New(mempool.Options{}), memmirror.New()
	schema := []idmirror.SchemaAttribute{{Name: "custom:tenant", DataType: "String", Mutable: true}, {Name: "custom:legacy_sub", DataType: "String", Mutable: true}}
	src := svc.CreatePool(mempool.PoolOptions{Name: "src", AdminCreateOnly: true, CaseSensitive: true, Schema: schema})
	dst := svc.CreatePool(mempool.PoolOptions{Name: "dst", AdminCreateOnly: true, CaseSensitive: true, Schema: schema})
	p := int32(3)
	if err := svc.CreateGroup(ctx, idmirror.Group{PoolID: src, Name: "admins", Precedence: &p, Description: "admins"}); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		name := fmt.Sprintf("u%d", i)
		if _, err := svc.CreateUser(ctx, src, name, map[string]string{"email": name + "@x.io", "custom:tenant": "t"}, cognito.Suppress); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := svc.AddToGroup(ctx, src, name, "admins"); err != nil {
				t.Fatal(err)
			}
		}
		if i == 3 {
			if err := svc.SetEnabled(ctx, src, name, false); err != nil {
				t.Fatal(err)
			}
		}
		if i == 5 {
			if err := svc.SetSMSMFA(ctx, src, name, true, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := idsync.NewReconciler(svc, store, nil, nil, idsync.Options{Repair: true, Deep: true}).Run(ctx, src); err != nil {
		t.Fatal(err)
	}
	_, err := restore.New(store, svc, nil, zaptest.NewLogger(t)).Run(ctx, restore.Options{SourcePool: src, TargetPool: dst,
		PasswordMode: restore.Reset, LegacySubAttribute: legacy})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, src, dst
}

func TestVerifyARestoreByOriginLink(t *testing.T) {
	svc, store, src, dst := restored(t, "")
	v := verify.New(store, svc, nil, zaptest.NewLogger(t))
	rep, err := v.Run(context.Background(), verify.Options{SourcePool: src, TargetPool: dst, Deep: true})
	if err != nil || !rep.Equal() || rep.Matched != 8 || rep.Expected != 8 || rep.Memberships != 4 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	// Paged reads only without --deep: no call per user.
	before := len(svc.Calls())
	if _, err := v.Run(context.Background(), verify.Options{SourcePool: src, TargetPool: dst}); err != nil {
		t.Fatal(err)
	}
	for _, c := range svc.Calls()[before:] {
		switch c.Op {
		case "ListUsers", "ListGroups", "ListUsersInGroup":
		default:
			t.Fatalf("verify without --deep called %s", c.Op)
		}
		if c.Write {
			t.Fatalf("verify wrote: %+v", c)
		}
	}
}

func TestVerifyNamesEachDifference(t *testing.T) {
	svc, store, src, dst := restored(t, "")
	ctx := context.Background()
	p := int32(1)
	for _, f := range []func() error{
		func() error { return svc.UpdateAttributes(ctx, dst, "u1", map[string]string{"custom:tenant": "other"}) },
		func() error { return svc.SetEnabled(ctx, dst, "u3", true) },
		func() error { return svc.RemoveFromGroup(ctx, dst, "u2", "admins") },
		func() error { return svc.AddToGroup(ctx, dst, "u7", "admins") },
		func() error { return svc.SetSMSMFA(ctx, dst, "u5", false, false) },
		func() error {
			return svc.UpdateGroup(ctx, idmirror.Group{PoolID: dst, Name: "admins", Precedence: &p, Description: "admins"})
		},
		func() error { return svc.DeleteUser(ctx, dst, "u6") },
		func() error {
			_, err := svc.CreateUser(ctx, dst, "stranger", nil, cognito.Suppress)
			return err
		},
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := verify.New(store, svc, nil, zaptest.NewLogger(t)).Run(ctx, verify.Options{SourcePool: src, TargetPool: dst, Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rep.Differences {
		got = append(got, fmt.Sprintf("%s/%s/%s/%s", d.Kind, d.User, d.Group, d.Field))
	}
	want := "[group-field//admins/precedence unexpected-user/stranger//sub user-field/u1//custom:tenant missing-membership/u2/admins/groups " +
		"user-field/u3//enabled user-field/u5//sms_mfa missing-user/u6//sub extra-membership/u7/admins/groups]"
	if fmt.Sprint(got) != want {
		t.Fatalf("differences\n%v\nwant\n%s", got, want)
	}
}

func TestVerifyMatchesByLegacySubAndByName(t *testing.T) {
	svc, _, src, dst := restored(t, "custom:legacy_sub")
	// A mirror that has the source but not restore's links: a fresh copy
	// made by sync alone.
	fresh := memmirror.New()
	if _, err := idsync.NewReconciler(svc, fresh, nil, nil, idsync.Options{Repair: true, Deep: true}).Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	v := verify.New(fresh, svc, nil, zaptest.NewLogger(t))
	for _, o := range []verify.Options{{LegacySubAttribute: "custom:legacy_sub"}, {ByName: true}} {
		o.SourcePool, o.TargetPool = src, dst
		rep, err := v.Run(context.Background(), o)
		if err != nil || rep.Matched != 8 {
			t.Fatalf("%+v: err %v, matched %d, %v", o, err, rep.Matched, rep.Differences)
		}
		if o.ByName && len(rep.Differences) != 8 { // the legacy-sub attribute is a difference when nothing says it is one
			t.Fatalf("by name: %v", rep.Differences)
		}
	}
	rep, err := v.Run(context.Background(), verify.Options{SourcePool: src, TargetPool: dst})
	if err != nil || rep.Matched != 0 || len(rep.Differences) != 16+4 {
		t.Fatalf("without a link every user is missing and unexpected: err %v, %d differences", err, len(rep.Differences))
	}
}

func TestStatusClass(t *testing.T) {
	for _, s := range []string{"CONFIRMED", "FORCE_CHANGE_PASSWORD", "RESET_REQUIRED"} {
		if verify.StatusClass(s) != "confirmed" {
			t.Fatalf("%s: %s", s, verify.StatusClass(s))
		}
	}
	if verify.StatusClass("UNCONFIRMED") == "confirmed" {
		t.Fatal("UNCONFIRMED is its own class")
	}
}
