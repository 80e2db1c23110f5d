package security_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/security"
)

func TestEmitLogAndMetric(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	var buf bytes.Buffer
	e := security.New(zap.New(core), &buf, "refresh")
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	e.Emit(security.Event{Kind: security.RoleGranted, PoolID: "p1", Role: "admin", Group: "admins", Sub: "s1", Actor: "arn:aws:iam::1:user/mallory", Source: "event", At: at})
	e.Emit(security.Event{Kind: security.MassDeletionStopped, PoolID: "p1", Count: 40, At: at})

	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("log lines = %d, want 2", len(entries))
	}
	got := entries[0].ContextMap()
	want := map[string]any{"security_event": "role_granted", "function": "refresh", "pool_id": "p1", "role": "admin",
		"group": "admins", "sub": "s1", "actor": "arn:aws:iam::1:user/mallory", "source": "event", "at": at}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("log fields = %v\nwant %v", got, want)
	}
	if c := entries[1].ContextMap()["count"]; c != int64(40) {
		t.Errorf("count = %v", c)
	}

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("EMF lines = %d, want 2", len(lines))
	}
	var m struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Kind, Role string
		Events     float64 `json:"SecurityEvents"`
	}
	for i, wantRole := range []string{"admin", "none"} {
		if err := json.Unmarshal(lines[i], &m); err != nil {
			t.Fatal(err)
		}
		cw := m.AWS.CloudWatchMetrics[0]
		if cw.Namespace != security.Namespace || cw.Metrics[0].Name != security.MetricName || m.Events != 1 || m.Role != wantRole || m.AWS.Timestamp != at.UnixMilli() {
			t.Errorf("line %d = %s", i, lines[i])
		}
		if !reflect.DeepEqual(cw.Dimensions, [][]string{{"Kind"}, {"Kind", "Role"}}) {
			t.Errorf("dimensions = %v", cw.Dimensions)
		}
	}
}

func TestNilEmitterDrops(t *testing.T) {
	var e *security.Emitter
	e.Emit(security.Event{Kind: security.RestoreRan}) // must not panic
}

func TestFromChange(t *testing.T) {
	roles := idmirror.DefaultRoleMap()
	actor := idmirror.Actor{Type: "IAMUser", ARN: "arn:aws:iam::1:user/mallory"}
	fc := func(b, a string) idmirror.FieldChange { return idmirror.FieldChange{Before: b, After: a} }
	cases := []struct {
		name  string
		c     idmirror.Change
		after map[string]string
		want  []security.Event
	}{
		{"grant admin and operator, keep other",
			idmirror.Change{Kind: "user", PoolID: "p", Key: "s1", Fields: map[string]idmirror.FieldChange{"groups": fc("staff", "admins,operators,staff")}, Actor: actor, Source: idmirror.SourceEvent},
			map[string]string{"groups": "admins,operators,staff"},
			[]security.Event{
				{Kind: security.RoleGranted, PoolID: "p", Role: "admin", Group: "admins", Sub: "s1", Actor: actor.String(), Source: "event"},
				{Kind: security.RoleGranted, PoolID: "p", Role: "operator", Group: "operators", Sub: "s1", Actor: actor.String(), Source: "event"},
			}},
		{"membership already held: nothing",
			idmirror.Change{Kind: "user", PoolID: "p", Key: "s1", Fields: map[string]idmirror.FieldChange{"groups": fc("admins", "")}},
			map[string]string{}, nil},
		{"new user born admin",
			idmirror.Change{Kind: "user", PoolID: "p", Key: "s2", Fields: map[string]idmirror.FieldChange{"groups": fc("", "admins"), "username": fc("", "eve")}, Source: idmirror.SourceSync},
			map[string]string{"groups": "admins"},
			[]security.Event{{Kind: security.RoleGranted, PoolID: "p", Role: "admin", Group: "admins", Sub: "s2", Source: "sync"}}},
		{"admin disabled",
			idmirror.Change{Kind: "user", PoolID: "p", Key: "s1", Fields: map[string]idmirror.FieldChange{"enabled": fc("true", "false")}},
			map[string]string{"groups": "admins", "enabled": "false"},
			[]security.Event{{Kind: security.PrivilegedDisabled, PoolID: "p", Role: "admin", Sub: "s1"}}},
		{"operator disabled: not privileged",
			idmirror.Change{Kind: "user", PoolID: "p", Key: "s1", Fields: map[string]idmirror.FieldChange{"enabled": fc("true", "false")}},
			map[string]string{"groups": "operators"}, nil},
		{"admin enabled",
			idmirror.Change{Kind: "user", PoolID: "p", Key: "s1", Fields: map[string]idmirror.FieldChange{"enabled": fc("false", "true")}},
			map[string]string{"groups": "admins,x"},
			[]security.Event{{Kind: security.PrivilegedEnabled, PoolID: "p", Role: "admin", Sub: "s1"}}},
		{"enabled first observed: not a change of state",
			idmirror.Change{Kind: "user", PoolID: "p", Key: "s1", Fields: map[string]idmirror.FieldChange{"enabled": fc("", "true")}},
			map[string]string{"groups": "admins"}, nil},
		{"group definition",
			idmirror.Change{Kind: "group", PoolID: "p", Key: "admins", Fields: map[string]idmirror.FieldChange{"role_arn": fc("", "arn:x"), "precedence": fc("1", "0")}},
			nil,
			[]security.Event{{Kind: security.GroupChanged, PoolID: "p", Role: "admin", Group: "admins", Detail: "precedence,role_arn"}}},
		{"role map",
			idmirror.Change{Kind: "rolemap", PoolID: "p", Key: "rolemap", Fields: map[string]idmirror.FieldChange{"role:admin": fc("groups=admins", "groups=admins,staff")}},
			nil,
			[]security.Event{{Kind: security.RoleMapChanged, PoolID: "p", Detail: "role:admin"}}},
		{"config: nothing", idmirror.Change{Kind: "config", PoolID: "p", Fields: map[string]idmirror.FieldChange{"mfa": fc("OFF", "ON")}}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := security.FromChange(tc.c, tc.after, roles)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
