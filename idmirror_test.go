package idmirror_test

import (
	"reflect"
	"testing"

	"github.com/idmirror/idmirror"
)

func TestUserFields(t *testing.T) {
	u := idmirror.User{Username: "a", Attributes: map[string]string{"email": "a@x", "custom:t": ""}, Status: "CONFIRMED",
		Enabled: true, Groups: []string{"b", "a", "b"}, MFA: idmirror.MFA{SMSEnabled: true, Preferred: "SMS_MFA"}}
	want := map[string]string{"email": "a@x", "username": "a", "status": "CONFIRMED", "enabled": "true", "groups": "a,b", "mfa": "sms,preferred=SMS_MFA"}
	if got := u.Fields(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Fields = %v, want %v", got, want)
	}
	u.Deleted = true
	if u.Fields()["deleted"] != "true" {
		t.Fatal("a tombstone must show in its fields")
	}
}

func TestRolesFor(t *testing.T) {
	m := idmirror.DefaultRoleMap()
	names := func(rs []idmirror.Role) (out []string) {
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return out
	}
	for _, c := range []struct {
		groups []string
		want   []string
	}{
		{[]string{"operators", "admins"}, []string{"admin", "operator"}},
		{[]string{"operators"}, []string{"operator"}},
		{[]string{"readers"}, nil},
		{nil, nil},
	} {
		if got := names(m.RolesFor(c.groups)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("RolesFor(%v) = %v, want %v", c.groups, got, c.want)
		}
	}
	if g := m.GroupsFor("admin"); !reflect.DeepEqual(g, []string{"admins"}) {
		t.Errorf("GroupsFor(admin) = %v", g)
	}
}
