package triggers_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/triggers"
)

// Three roles, in precedence order.
var hoursRoles = idmirror.RoleMap{Roles: []idmirror.Role{
	{Name: "admin", Groups: []string{"admins"}, Scopes: []string{"backoffice/everyday", "backoffice/personal-data"}},
	{Name: "operator", Groups: []string{"operators"}, Scopes: []string{"backoffice/everyday"}},
	{Name: "viewer", Groups: []string{"viewers"}, Scopes: []string{"backoffice/read"}},
}}

func policy(t testing.TB, js string) *triggers.AccessHours {
	t.Helper()
	p, err := triggers.ParseAccessHours([]byte(js), hoursRoles)
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	return p
}

func paris(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at is a wall-clock instant in Paris.
func at(t testing.TB, date string, hh, mm int) time.Time {
	t.Helper()
	d, err := time.ParseInLocation("2006-01-02", date, paris(t))
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, paris(t))
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

type instant struct {
	name   string
	at     time.Time
	inside bool
}

func checkWithin(t *testing.T, p *triggers.AccessHours, cases []instant) {
	t.Helper()
	for _, c := range cases {
		if got := p.Within(c.at); got != c.inside {
			t.Errorf("%s (%s): within = %v, want %v", c.name, c.at.Format(time.RFC3339Nano), got, c.inside)
		}
	}
}

const office = `{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri"],"start":"08:00","end":"19:00",
	"holidays":["2026-05-01","2026-12-25"]}`

// Start is inclusive, end exclusive, to the nanosecond; holidays and
// non-working days are outside all day.
func TestAccessHoursWindowEdges(t *testing.T) {
	p := policy(t, office)
	ns := time.Nanosecond
	mon := "2026-03-02" // a Monday, winter time (UTC+1)
	checkWithin(t, p, []instant{
		{"start", at(t, mon, 8, 0), true},
		{"1 ns before start", at(t, mon, 8, 0).Add(-ns), false},
		{"1 ns after start", at(t, mon, 8, 0).Add(ns), true},
		{"start, seen in UTC", utc("2026-03-02T07:00:00Z"), true},
		{"end", at(t, mon, 19, 0), false},
		{"1 ns before end", at(t, mon, 19, 0).Add(-ns), true},
		{"1 ns after end", at(t, mon, 19, 0).Add(ns), false},
		{"midnight", at(t, mon, 0, 0), false},
		{"saturday noon", at(t, "2026-03-07", 12, 0), false},
		{"sunday noon", at(t, "2026-03-08", 12, 0), false},
		{"holiday (Friday 1 May) noon", at(t, "2026-05-01", 12, 0), false},
		{"holiday start", at(t, "2026-05-01", 8, 0), false},
		{"the day before the holiday", at(t, "2026-04-30", 12, 0), true},
		{"the next working day after the holiday", at(t, "2026-05-04", 8, 0), true},
	})
}

// The window is wall-clock time in the zone: its edges move in UTC when the
// clocks change (Europe/Paris: 2026-03-29 02:00 CET → 03:00 CEST,
// 2026-10-25 03:00 CEST → 02:00 CET).
func TestAccessHoursDaylightSaving(t *testing.T) {
	every := `{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri","sat","sun"],"start":"08:00","end":"19:00"}`
	p := policy(t, every)
	ns := time.Nanosecond
	checkWithin(t, p, []instant{
		// The day before spring forward: UTC+1.
		{"28 Mar start", utc("2026-03-28T07:00:00Z"), true},
		{"28 Mar 1 ns before start", utc("2026-03-28T07:00:00Z").Add(-ns), false},
		// The day of it: UTC+2 from 01:00Z.
		{"29 Mar start (06:00Z)", utc("2026-03-29T06:00:00Z"), true},
		{"29 Mar 1 ns before start", utc("2026-03-29T06:00:00Z").Add(-ns), false},
		{"29 Mar end (17:00Z)", utc("2026-03-29T17:00:00Z"), false},
		{"29 Mar 1 ns before end", utc("2026-03-29T17:00:00Z").Add(-ns), true},
		// The day before fall back: UTC+2.
		{"24 Oct start", utc("2026-10-24T06:00:00Z"), true},
		{"24 Oct 1 ns before start", utc("2026-10-24T06:00:00Z").Add(-ns), false},
		// The day of it: UTC+1 from 01:00Z.
		{"25 Oct start (07:00Z)", utc("2026-10-25T07:00:00Z"), true},
		{"25 Oct 1 ns before start", utc("2026-10-25T07:00:00Z").Add(-ns), false},
		{"25 Oct end (18:00Z)", utc("2026-10-25T18:00:00Z"), false},
		{"25 Oct 1 ns before end", utc("2026-10-25T18:00:00Z").Add(-ns), true},
	})

	// An edge inside the hour that is skipped: the window opens when the
	// clocks jump past it.
	skipped := policy(t, `{"timeZone":"Europe/Paris","days":["sun"],"start":"02:30","end":"12:00"}`)
	checkWithin(t, skipped, []instant{
		{"01:59:59.999999999 CET", utc("2026-03-29T01:00:00Z").Add(-ns), false},
		{"03:00 CEST, the instant after", utc("2026-03-29T01:00:00Z"), true},
	})

	// An edge inside the hour that repeats: crossed twice, by wall time.
	repeated := policy(t, `{"timeZone":"Europe/Paris","days":["sun"],"start":"00:00","end":"02:30"}`)
	checkWithin(t, repeated, []instant{
		{"02:29:59.999999999 CEST", utc("2026-10-25T00:30:00Z").Add(-ns), true},
		{"02:30 CEST", utc("2026-10-25T00:30:00Z"), false},
		{"02:00 CET (the hour again)", utc("2026-10-25T01:00:00Z"), true},
		{"02:30 CET", utc("2026-10-25T01:30:00Z"), false},
	})
}

// A window whose end is before its start crosses midnight and belongs to the
// day it starts on.
func TestAccessHoursAcrossMidnight(t *testing.T) {
	p := policy(t, `{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri"],"start":"22:00","end":"06:00",
		"holidays":["2026-05-01"]}`)
	ns := time.Nanosecond
	checkWithin(t, p, []instant{
		{"Friday 22:00", at(t, "2026-03-06", 22, 0), true},
		{"Friday 1 ns before 22:00", at(t, "2026-03-06", 22, 0).Add(-ns), false},
		{"Friday noon", at(t, "2026-03-06", 12, 0), false},
		{"Saturday 00:00 (Friday's night)", at(t, "2026-03-07", 0, 0), true},
		{"Saturday 1 ns before 06:00", at(t, "2026-03-07", 6, 0).Add(-ns), true},
		{"Saturday 06:00", at(t, "2026-03-07", 6, 0), false},
		{"Saturday 22:00", at(t, "2026-03-07", 22, 0), false},
		{"Monday 03:00 (Sunday's night)", at(t, "2026-03-09", 3, 0), false},
		{"Thursday 30 Apr 23:00", at(t, "2026-04-30", 23, 0), true},
		{"Friday 1 May 03:00 (Thursday's night)", at(t, "2026-05-01", 3, 0), true},
		{"Friday 1 May 23:00 (a holiday's night)", at(t, "2026-05-01", 23, 0), false},
		{"Saturday 2 May 03:00 (the holiday's night)", at(t, "2026-05-02", 3, 0), false},
	})
	whole := policy(t, `{"timeZone":"UTC","days":["mon"],"start":"00:00","end":"24:00"}`)
	checkWithin(t, whole, []instant{
		{"Monday 00:00", utc("2026-03-02T00:00:00Z"), true},
		{"Monday 1 ns before 24:00", utc("2026-03-03T00:00:00Z").Add(-ns), true},
		{"Tuesday 00:00", utc("2026-03-03T00:00:00Z"), false},
		{"Sunday 1 ns before midnight", utc("2026-03-02T00:00:00Z").Add(-ns), false},
	})
}

func roleNames(rs []idmirror.Role) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func held(names ...string) []idmirror.Role {
	var out []idmirror.Role
	for _, r := range hoursRoles.Roles {
		for _, n := range names {
			if r.Name == n {
				out = append(out, r)
			}
		}
	}
	return out
}

// The rule of the highest role held applies; a downgrade keeps only roles the
// groups gave, at or below the floor, then the rule of the highest role left
// applies.
func TestAccessHoursDecide(t *testing.T) {
	night := at(t, "2026-03-02", 23, 0)
	day := at(t, "2026-03-02", 12, 0)
	cases := []struct {
		name   string
		rules  string
		now    time.Time
		held   []idmirror.Role
		action triggers.HoursAction
		kept   []string
		steps  []triggers.HoursStep
	}{
		{"within hours: every rule sleeps", `{"admin":{"outside":"deny"}}`, day, held("admin", "operator"),
			triggers.HoursAllow, []string{"admin", "operator"}, nil},
		{"no rule: allow", `{}`, night, held("admin"), triggers.HoursAllow, []string{"admin"}, nil},
		{"explicit allow", `{"admin":{"outside":"allow"}}`, night, held("admin"), triggers.HoursAllow, []string{"admin"}, nil},
		{"deny", `{"admin":{"outside":"deny"}}`, night, held("admin", "operator"), triggers.HoursDeny, []string{},
			[]triggers.HoursStep{{Role: "admin", Action: triggers.HoursDeny}}},
		{"the highest role's rule wins over a lower role's deny", `{"operator":{"outside":"deny"}}`, night, held("admin", "operator"),
			triggers.HoursAllow, []string{"admin", "operator"}, nil},
		{"a lower role alone gets its own rule", `{"operator":{"outside":"deny"}}`, night, held("operator"),
			triggers.HoursDeny, []string{}, []triggers.HoursStep{{Role: "operator", Action: triggers.HoursDeny}}},
		{"alert keeps everything", `{"operator":{"outside":"alert"}}`, night, held("operator", "viewer"),
			triggers.HoursAlert, []string{"operator", "viewer"}, []triggers.HoursStep{{Role: "operator", Action: triggers.HoursAlert}}},
		{"downgrade to the floor", `{"admin":{"outside":"downgrade","floor":"operator"}}`, night, held("admin", "operator", "viewer"),
			triggers.HoursDowngrade, []string{"operator", "viewer"},
			[]triggers.HoursStep{{Role: "admin", Action: triggers.HoursDowngrade, Floor: "operator"}}},
		{"downgrade never adds the floor", `{"admin":{"outside":"downgrade","floor":"operator"}}`, night, held("admin"),
			triggers.HoursDowngrade, []string{},
			[]triggers.HoursStep{{Role: "admin", Action: triggers.HoursDowngrade, Floor: "operator"}}},
		{"downgrade keeps what is below the floor", `{"admin":{"outside":"downgrade","floor":"operator"}}`, night, held("admin", "viewer"),
			triggers.HoursDowngrade, []string{"viewer"},
			[]triggers.HoursStep{{Role: "admin", Action: triggers.HoursDowngrade, Floor: "operator"}}},
		{"downgrade, then the kept role's deny", `{"admin":{"outside":"downgrade","floor":"operator"},"operator":{"outside":"deny"}}`,
			night, held("admin", "operator"), triggers.HoursDeny, []string{},
			[]triggers.HoursStep{{Role: "admin", Action: triggers.HoursDowngrade, Floor: "operator"}, {Role: "operator", Action: triggers.HoursDeny}}},
		{"downgrade, then the kept role's alert", `{"admin":{"outside":"downgrade","floor":"viewer"},"viewer":{"outside":"alert"}}`,
			night, held("admin", "operator", "viewer"), triggers.HoursDowngrade, []string{"viewer"},
			[]triggers.HoursStep{{Role: "admin", Action: triggers.HoursDowngrade, Floor: "viewer"}, {Role: "viewer", Action: triggers.HoursAlert}}},
		{"no role held", `{"admin":{"outside":"deny"}}`, night, nil, triggers.HoursAllow, []string{}, nil},
	}
	for _, c := range cases {
		p := policy(t, `{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri"],"start":"08:00","end":"19:00","roles":`+c.rules+`}`)
		d := p.Decide(c.now, c.held)
		if d.Action != c.action || !reflect.DeepEqual(roleNames(d.Kept), c.kept) || !reflect.DeepEqual(d.Steps, c.steps) {
			t.Errorf("%s: decision = %+v (kept %v), want %s kept %v steps %+v", c.name, d, roleNames(d.Kept), c.action, c.kept, c.steps)
		}
		if d.Outside != (c.now == night && len(c.held) > 0) {
			t.Errorf("%s: outside = %v", c.name, d.Outside)
		}
	}
	var none *triggers.AccessHours
	if d := none.Decide(night, held("admin")); d.Action != triggers.HoursAllow || len(d.Kept) != 1 {
		t.Errorf("no policy: %+v", d)
	}
}

// Every malformed policy is refused with ErrInvalid and a message naming the problem.
func TestParseAccessHoursRejects(t *testing.T) {
	base := func(over string) string {
		return `{"timeZone":"Europe/Paris","days":["mon"],"start":"08:00","end":"19:00"` + over + `}`
	}
	for _, c := range []struct{ name, policy, want string }{
		{"not JSON", `{"timeZone":`, "access hours"},
		{"unknown field", base(`,"hours":1`), `unknown field "hours"`},
		{"trailing data", base(``) + `{}`, "trailing data"},
		{"no zone", `{"days":["mon"],"start":"08:00","end":"19:00"}`, "timeZone missing"},
		{"unknown zone", `{"timeZone":"Mars/Olympus","days":["mon"],"start":"08:00","end":"19:00"}`, `"Mars/Olympus": not an IANA time zone`},
		{"Local zone", `{"timeZone":"Local","days":["mon"],"start":"08:00","end":"19:00"}`, "name the zone"},
		{"no days", `{"timeZone":"UTC","days":[],"start":"08:00","end":"19:00"}`, "days missing"},
		{"bad day", `{"timeZone":"UTC","days":["monday"],"start":"08:00","end":"19:00"}`, `day "monday"`},
		{"day twice", `{"timeZone":"UTC","days":["mon","mon"],"start":"08:00","end":"19:00"}`, `day "mon" listed twice`},
		{"no start", `{"timeZone":"UTC","days":["mon"],"end":"19:00"}`, "start missing"},
		{"bad start", `{"timeZone":"UTC","days":["mon"],"start":"8:00","end":"19:00"}`, `start "8:00"`},
		{"start 24:00", `{"timeZone":"UTC","days":["mon"],"start":"24:00","end":"19:00"}`, `start "24:00"`},
		{"bad end", `{"timeZone":"UTC","days":["mon"],"start":"08:00","end":"19:60"}`, `end "19:60"`},
		{"seconds", `{"timeZone":"UTC","days":["mon"],"start":"08:00:00","end":"19:00"}`, `start "08:00:00"`},
		{"empty window", `{"timeZone":"UTC","days":["mon"],"start":"08:00","end":"08:00"}`, "empty window"},
		{"bad holiday", base(`,"holidays":["2026-02-30"]`), `holiday "2026-02-30"`},
		{"holiday format", base(`,"holidays":["25/12/2026"]`), `holiday "25/12/2026"`},
		{"holiday twice", base(`,"holidays":["2026-12-25","2026-12-25"]`), "holiday 2026-12-25 listed twice"},
		{"unknown role", base(`,"roles":{"root":{"outside":"deny"}}`), `role "root" is not in the role map`},
		{"no action", base(`,"roles":{"admin":{}}`), `role "admin": outside missing`},
		{"bad action", base(`,"roles":{"admin":{"outside":"block"}}`), `outside "block"`},
		{"downgrade without floor", base(`,"roles":{"admin":{"outside":"downgrade"}}`), "downgrade needs a floor"},
		{"floor not a role", base(`,"roles":{"admin":{"outside":"downgrade","floor":"intern"}}`), `floor "intern" is not in the role map`},
		{"floor above", base(`,"roles":{"operator":{"outside":"downgrade","floor":"admin"}}`), `floor "admin" must be a role below it`},
		{"floor is itself", base(`,"roles":{"operator":{"outside":"downgrade","floor":"operator"}}`), `floor "operator" must be a role below it`},
		{"floor on deny", base(`,"roles":{"admin":{"outside":"deny","floor":"operator"}}`), "a floor is for downgrade only"},
		{"bad role ARN", base(`,"groupIamRoles":{"admins":"arn:aws:iam::123:role/x"}`), `is not an IAM role ARN`},
		{"bad group", base(`,"groupIamRoles":{"two words":"arn:aws:iam::123456789012:role/x"}`), `bad group name "two words"`},
	} {
		_, err := triggers.ParseAccessHours([]byte(c.policy), hoursRoles)
		if !errors.Is(err, idmirror.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrInvalid naming %q", c.name, err, c.want)
		}
	}
}

// A policy parsed against one role map cannot be used with a map that lacks its roles.
func TestNewPreTokenChecksThePolicyAgainstItsRoleMap(t *testing.T) {
	p := policy(t, `{"timeZone":"UTC","days":["mon"],"start":"08:00","end":"19:00","roles":{"viewer":{"outside":"deny"}}}`)
	_, err := triggers.NewPreToken(idmirror.DefaultRoleMap(), nil, triggers.PreTokenOptions{Hours: p})
	if !errors.Is(err, idmirror.ErrInvalid) || !strings.Contains(err.Error(), `"viewer"`) {
		t.Fatalf("err = %v, want the unknown role named", err)
	}
}

// The README's example policy is valid under the default role map and means what the README says.
func TestReadmeAccessHoursExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Business-hours access")
	_, rest, ok2 := strings.Cut(rest, "```json\n")
	js, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal(`README: no json block under "## Business-hours access"`)
	}
	p, err := triggers.ParseAccessHours([]byte(js), idmirror.DefaultRoleMap())
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	admin := idmirror.DefaultRoleMap().RolesFor([]string{"admins", "operators"})
	if d := p.Decide(at(t, "2026-03-02", 19, 0), admin); d.Action != triggers.HoursDowngrade || roleNames(d.Kept)[0] != "operator" {
		t.Errorf("README example at 19:00 on a Monday: %+v, want admin downgraded to operator", d)
	}
	if d := p.Decide(at(t, "2026-03-02", 8, 0), admin); d.Action != triggers.HoursAllow || len(d.Kept) != 2 {
		t.Errorf("README example at 08:00 on a Monday: %+v, want allowed", d)
	}
}
