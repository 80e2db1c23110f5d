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
	emitted := at.Add(7 * time.Minute) // a reconcile reports a change it observed minutes ago
	e.SetClock(func() time.Time { return emitted })
	e.Emit(security.Event{Kind: security.RoleGranted, PoolID: "p1", Role: "admin", Group: "admins", Sub: "s1", Actor: "arn:aws:iam::1:user/mallory", Source: "event", At: at})
	e.Emit(security.Event{Kind: security.MassDeletionStopped, PoolID: "p1", Count: 40, At: at})

	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("log lines = %d, want 2", len(entries))
	}
	got := entries[0].ContextMap()
	want := map[string]any{"security_event": "role_granted", "emitter": "refresh", "pool_id": "p1", "role": "admin",
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
		if cw.Namespace != security.Namespace || cw.Metrics[0].Name != security.MetricName || m.Events != 1 || m.Role != wantRole || m.AWS.Timestamp != emitted.UnixMilli() {
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

func TestFromApplied(t *testing.T) {
	roles := idmirror.DefaultRoleMap()
	actor := idmirror.Actor{Type: "IAMUser", ARN: "arn:aws:iam::1:user/mallory"}
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	fc := func(b, a string) idmirror.FieldChange { return idmirror.FieldChange{Before: b, After: a} }
	grant := func(g string, a idmirror.Actor) idmirror.Membership {
		return idmirror.Membership{Group: g, Sub: "s1", GrantedAt: at, GrantedBy: idmirror.SourceEvent, GrantedActor: a}
	}
	user := func(c idmirror.Change) *idmirror.Change { c.Kind, c.PoolID, c.Key = "user", "p", "s1"; return &c }
	cases := []struct {
		name string
		a    idmirror.Applied
		want []security.Event
	}{
		{"grants of admin and operator, each with its granter; staff gives no role",
			idmirror.Applied{PoolID: "p", Change: user(idmirror.Change{Fields: map[string]idmirror.FieldChange{"groups": fc("", "admins,operators,staff")}}),
				Grants: []idmirror.Membership{grant("admins", actor), grant("operators", idmirror.SyncActor()), grant("staff", actor)}},
			[]security.Event{
				{Kind: security.RoleGranted, PoolID: "p", Role: "admin", Group: "admins", Sub: "s1", Actor: actor.String(), Source: "event", At: at},
				{Kind: security.RoleGranted, PoolID: "p", Role: "operator", Group: "operators", Sub: "s1", Actor: idmirror.SyncActor().String(), Source: "event", At: at},
			}},
		{"a late first observation: no history item, the grant still raises",
			idmirror.Applied{PoolID: "p", Grants: []idmirror.Membership{grant("admins", idmirror.SyncActor())}},
			[]security.Event{{Kind: security.RoleGranted, PoolID: "p", Role: "admin", Group: "admins", Sub: "s1", Actor: idmirror.SyncActor().String(), Source: "event", At: at}}},
		{"a revocation: nothing",
			idmirror.Applied{PoolID: "p", Change: user(idmirror.Change{Fields: map[string]idmirror.FieldChange{"groups": fc("admins", "")}})}, nil},
		{"admin disabled",
			idmirror.Applied{PoolID: "p", Change: user(idmirror.Change{Fields: map[string]idmirror.FieldChange{"enabled": fc("true", "false")}}), After: map[string]string{"groups": "admins"}},
			[]security.Event{{Kind: security.PrivilegedDisabled, PoolID: "p", Role: "admin", Sub: "s1"}}},
		{"operator disabled: not privileged",
			idmirror.Applied{PoolID: "p", Change: user(idmirror.Change{Fields: map[string]idmirror.FieldChange{"enabled": fc("true", "false")}}), After: map[string]string{"groups": "operators"}}, nil},
		{"admin enabled",
			idmirror.Applied{PoolID: "p", Change: user(idmirror.Change{Fields: map[string]idmirror.FieldChange{"enabled": fc("false", "true")}}), After: map[string]string{"groups": "admins,x"}},
			[]security.Event{{Kind: security.PrivilegedEnabled, PoolID: "p", Role: "admin", Sub: "s1"}}},
		{"enabled first observed: not a change of state",
			idmirror.Applied{PoolID: "p", Change: user(idmirror.Change{Fields: map[string]idmirror.FieldChange{"enabled": fc("", "true")}}), After: map[string]string{"groups": "admins"}}, nil},
		{"group definition",
			idmirror.Applied{PoolID: "p", Change: &idmirror.Change{Kind: "group", PoolID: "p", Key: "admins", Fields: map[string]idmirror.FieldChange{"role_arn": fc("", "arn:x"), "precedence": fc("1", "0")}}},
			[]security.Event{{Kind: security.GroupChanged, PoolID: "p", Role: "admin", Group: "admins", Detail: "precedence,role_arn"}}},
		{"role map",
			idmirror.Applied{PoolID: "p", Change: &idmirror.Change{Kind: "rolemap", PoolID: "p", Key: "rolemap", Fields: map[string]idmirror.FieldChange{"role:admin": fc("groups=admins", "groups=admins,staff")}}},
			[]security.Event{{Kind: security.RoleMapChanged, PoolID: "p", Detail: "role:admin"}}},
		{"config: nothing", idmirror.Applied{PoolID: "p", Change: &idmirror.Change{Kind: "config", PoolID: "p", Fields: map[string]idmirror.FieldChange{"mfa": fc("OFF", "ON")}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := security.FromApplied(tc.a, roles)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A session name that is a person's email is masked in the log line.
func TestActorEmailMasked(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	security.New(zap.New(core), nil, "refresh").Emit(security.Event{Kind: security.RoleGranted,
		Actor: "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_x/alice@example.com from 198.51.100.7"})
	if got := logs.All()[0].ContextMap()["actor"]; got != "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_x/a***@example.com from 198.51.100.7" {
		t.Errorf("actor = %v", got)
	}
}
