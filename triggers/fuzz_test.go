package triggers_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/triggers"
)

var seeds = []string{
	"postconfirmation-signup.json", "postconfirmation-forgot-password.json", "postconfirmation-cognito-local.json",
	"pretoken-v1.json", "pretoken-v2.json", "pretoken-v3-admin.json", "pretoken-v3-client-credentials.json",
	"pretoken-v2-iam-roles.json",
}

// Decoding never panics, and an accepted event always names a pool, a user and a sub.
func FuzzParsePostConfirmation(f *testing.F) {
	for _, s := range seeds {
		f.Add(golden(f, s))
	}
	f.Add([]byte(`{"request":{"userAttributes":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, _, err := triggers.ParsePostConfirmation(data)
		if err == nil && (u.PoolID == "" || u.Sub == "" || u.Username == "") {
			t.Fatalf("accepted an event without pool, sub or user: %q", data)
		}
	})
}

// The pre-token handler never panics, and whatever it accepts it answers with JSON.
func FuzzPreToken(f *testing.F) {
	for _, s := range seeds {
		f.Add(golden(f, s))
	}
	h := newPreToken(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := h.Invoke(context.Background(), data)
		if err == nil && !json.Valid(out) {
			t.Fatalf("answered invalid JSON %q for %q", out, data)
		}
	})
}

// Any policy is either refused with ErrInvalid or survives a round trip
// through JSON; whatever it decides, at any instant, keeps only roles held,
// in their order, and never an empty action.
func FuzzParseAccessHours(f *testing.F) {
	for _, s := range []string{
		office,
		`{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri"],"start":"22:00","end":"06:00","roles":{"admin":{"outside":"downgrade","floor":"viewer"},"viewer":{"outside":"alert"}}}`,
		`{"timeZone":"UTC","days":["sun"],"start":"00:00","end":"24:00","roles":{"operator":{"outside":"deny"}},"groupIamRoles":{"operators":"arn:aws:iam::123456789012:role/op"}}`,
		`{"timeZone":"America/New_York","days":["sat"],"start":"23:59","end":"00:01","holidays":["2026-07-04"]}`,
		`{"timeZone":"Local"}`, `{}`, `null`, `{"timeZone":"UTC","days":["mon"],"start":"08:00","end":"08:00"}`,
	} {
		f.Add([]byte(s), int64(1772449200))
	}
	all := hoursRoles.Roles
	f.Fuzz(func(t *testing.T, data []byte, unix int64) {
		p, err := triggers.ParseAccessHours(data, hoursRoles)
		if err != nil {
			if !errors.Is(err, idmirror.ErrInvalid) {
				t.Fatalf("refused without ErrInvalid: %v", err)
			}
			return
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := triggers.ParseAccessHours(again, hoursRoles)
		if err != nil {
			t.Fatalf("round trip refused: %v (%s)", err, again)
		}
		twice, _ := json.Marshal(back)
		if string(twice) != string(again) {
			t.Fatalf("round trip changed the policy: %s, then %s", again, twice)
		}
		now := time.Unix(unix%(1<<40), 0)
		for mask := 1; mask < 1<<len(all); mask++ {
			var held []idmirror.Role
			for i, r := range all {
				if mask&(1<<i) != 0 {
					held = append(held, r)
				}
			}
			d := p.Decide(now, held)
			if d.Action == "" || (d.Action == triggers.HoursDeny) != (d.Kept == nil && len(d.Steps) > 0 && d.Steps[len(d.Steps)-1].Action == triggers.HoursDeny) {
				t.Fatalf("decision %+v for %v", d, roleNames(held))
			}
			if len(d.Kept) > 0 && !slices.EqualFunc(d.Kept, held[len(held)-len(d.Kept):], func(a, b idmirror.Role) bool { return a.Name == b.Name }) {
				t.Fatalf("kept %v, not a part of %v", roleNames(d.Kept), roleNames(held))
			}
			if !d.Outside && (d.Action != triggers.HoursAllow || len(d.Kept) != len(held)) {
				t.Fatalf("within hours yet %+v", d)
			}
		}
	})
}

// Under a policy, outside hours, the handler never panics, answers JSON, and
// never puts in a token a role the event's groups do not give.
func FuzzPreTokenHours(f *testing.F) {
	for _, s := range seeds {
		f.Add(golden(f, s))
	}
	p, err := triggers.ParseAccessHours([]byte(`{"timeZone":"Europe/Paris","days":["mon"],"start":"08:00","end":"09:00",`+
		`"roles":{"admin":{"outside":"downgrade","floor":"operator"}},"groupIamRoles":{"operators":"arn:aws:iam::123456789012:role/op"}}`),
		idmirror.DefaultRoleMap())
	if err != nil {
		f.Fatal(err)
	}
	h, err := triggers.NewPreToken(idmirror.DefaultRoleMap(), nil, triggers.PreTokenOptions{Hours: p,
		Now: func() time.Time { return time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := h.Invoke(context.Background(), data)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("answered invalid JSON %q for %q", out, data)
		}
		var ev struct {
			Request struct {
				GroupConfiguration struct {
					GroupsToOverride []string `json:"groupsToOverride"`
				} `json:"groupConfiguration"`
			} `json:"request"`
			Response map[string]map[string]any `json:"response"`
		}
		if json.Unmarshal(out, &ev) != nil {
			return
		}
		held := idmirror.DefaultRoleMap().RolesFor(ev.Request.GroupConfiguration.GroupsToOverride)
		given := map[string]bool{}
		for _, r := range held {
			given[r.Name] = true
		}
		if given["admin"] && (ev.Response["claimsOverrideDetails"] != nil || ev.Response["claimsAndScopeOverrideDetails"] != nil) {
			if b, _ := json.Marshal(ev.Response); json.Valid(b) && bytesContains(b, `"role":"admin"`) {
				t.Fatalf("an admin kept the admin role outside hours: %s", b)
			}
		}
		if !given["operator"] {
			if b, _ := json.Marshal(ev.Response); bytesContains(b, `"role":"operator"`) {
				t.Fatalf("a role the groups do not give: %s for groups %v", b, ev.Request.GroupConfiguration.GroupsToOverride)
			}
		}
	})
}

func bytesContains(b []byte, s string) bool { return strings.Contains(string(b), s) }
