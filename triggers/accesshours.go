package triggers

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/idmirror/idmirror"
)

// HoursAction is what the pre-token trigger does for a role outside working
// hours.
type HoursAction string

// The actions, from the mildest.
const (
	// HoursAllow issues the token as in working hours (the default).
	HoursAllow HoursAction = "allow"
	// HoursAlert issues the token and emits a security event.
	HoursAlert HoursAction = "alert"
	// HoursDowngrade withholds the roles above the rule's floor (and their
	// scopes, groups and IAM roles), emits a security event, and applies the
	// rule of the highest role left.
	HoursDowngrade HoursAction = "downgrade"
	// HoursDeny fails the trigger, so Cognito issues no token, and emits a
	// security event.
	HoursDeny HoursAction = "deny"
)

func (a HoursAction) rank() int {
	switch a {
	case HoursAlert:
		return 1
	case HoursDowngrade:
		return 2
	case HoursDeny:
		return 3
	}
	return 0
}

// HoursRule is one role's rule outside working hours.
type HoursRule struct {
	Outside HoursAction `json:"outside"`
	// Floor, for downgrade only: the highest role kept, a role of the role
	// map below the rule's own.
	Floor string `json:"floor,omitempty"`
}

// AccessHours is the business-hours policy of the pre-token trigger (the
// ACCESS_HOURS variable): working hours in one IANA time zone, and per role
// what happens outside them. Build it with ParseAccessHours; a nil policy
// allows everything.
//
// The window is wall-clock time in the zone: a minute m of a day D is inside
// when D is a working day that is not a holiday and Start <= m < End (End is
// exclusive; "24:00" is the end of the day). A window with End before Start
// crosses midnight: it belongs to the day it starts on, so its early hours
// count on the next day only when the day before was a working day and not a
// holiday. On the day clocks go forward, wall times in the skipped hour never
// occur; on the day they go back, the repeated hour is inside or outside by
// its wall time, twice.
type AccessHours struct {
	TimeZone string               `json:"timeZone"`
	Days     []string             `json:"days"`
	Start    string               `json:"start"`
	End      string               `json:"end"`
	Holidays []string             `json:"holidays,omitempty"`
	Roles    map[string]HoursRule `json:"roles,omitempty"`
	// GroupIAMRoles gives each group's IAM role ARN, so a downgrade keeps
	// exactly the IAM roles of the groups it keeps (the event lists a user's
	// groups and role ARNs apart, without saying which is whose). A role ARN
	// it does not attribute to a kept group is withheld by a downgrade.
	GroupIAMRoles map[string]string `json:"groupIamRoles,omitempty"`

	loc        *time.Location
	days       [7]bool
	start, end int          // minutes after midnight; end may be 1440
	holidays   map[int]bool // yyyymmdd
	roles      idmirror.RoleMap
	index      map[string]int // role name → precedence (its place in the role map)
	groupRole  map[string]int // group name → the index of the role it grants
	roleArns   map[string]string
	ruleByRole []HoursRule // by role index; Outside "" means allow
	floorIndex []int       // by role index, for downgrade rules
}

var (
	dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
		"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
	clockRE   = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
	dateRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	roleArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	groupRE   = regexp.MustCompile(`^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$`)
)

func hoursErr(format string, a ...any) error {
	return fmt.Errorf("%w: access hours: %s", idmirror.ErrInvalid, fmt.Sprintf(format, a...))
}

// ParseAccessHours decodes and validates a policy given as JSON, against the
// role map in force: every role named must be in it, and a downgrade's floor
// must be a role below the rule's own. The zone is loaded here (the pre-token
// binary embeds time/tzdata).
func ParseAccessHours(data []byte, roles idmirror.RoleMap) (*AccessHours, error) {
	var p AccessHours
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, hoursErr("%v", err)
	}
	if dec.More() {
		return nil, hoursErr("trailing data after the policy")
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	if err := p.bind(roles); err != nil {
		return nil, err
	}
	return &p, nil
}

// compile checks and compiles everything that does not depend on the role map.
func (p *AccessHours) compile() error {
	switch p.TimeZone {
	case "":
		return hoursErr("timeZone missing (an IANA zone such as Europe/Paris)")
	case "Local":
		return hoursErr("timeZone %q: name the zone (Local is the host's, which Lambda sets to UTC)", p.TimeZone)
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return hoursErr("timeZone %q: not an IANA time zone", p.TimeZone)
	}
	p.loc = loc
	if len(p.Days) == 0 {
		return hoursErr("days missing (working days: mon, tue, wed, thu, fri, sat, sun)")
	}
	p.days = [7]bool{}
	for _, d := range p.Days {
		wd, ok := dayNames[d]
		if !ok {
			return hoursErr("day %q: want one of mon, tue, wed, thu, fri, sat, sun", d)
		}
		if p.days[wd] {
			return hoursErr("day %q listed twice", d)
		}
		p.days[wd] = true
	}
	if p.start, err = clock(p.Start, "start", false); err != nil {
		return err
	}
	if p.end, err = clock(p.End, "end", true); err != nil {
		return err
	}
	if p.start == p.end {
		return hoursErr("start and end are both %s: an empty window (use 00:00 to 24:00 for the whole day)", p.Start)
	}
	p.holidays = make(map[int]bool, len(p.Holidays))
	for _, h := range p.Holidays {
		d, err := time.Parse("2006-01-02", h)
		if err != nil || !dateRE.MatchString(h) {
			return hoursErr("holiday %q: want a date YYYY-MM-DD", h)
		}
		k := dateKey(d.Date())
		if p.holidays[k] {
			return hoursErr("holiday %s listed twice", h)
		}
		p.holidays[k] = true
	}
	for _, g := range slices.Sorted(maps.Keys(p.GroupIAMRoles)) { // sorted: the same policy, the same error
		arn := p.GroupIAMRoles[g]
		if !groupRE.MatchString(g) {
			return hoursErr("groupIamRoles: bad group name %q", g)
		}
		if !roleArnRE.MatchString(arn) {
			return hoursErr("groupIamRoles: group %q: %q is not an IAM role ARN", g, arn)
		}
	}
	return nil
}

func clock(s, what string, end bool) (int, error) {
	if end && s == "24:00" {
		return 24 * 60, nil
	}
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		if s == "" {
			return 0, hoursErr("%s missing (HH:MM, 24-hour, in the zone)", what)
		}
		return 0, hoursErr("%s %q: want HH:MM from 00:00 to 23:59%s", what, s, map[bool]string{true: ", or 24:00"}[end])
	}
	return int(m[1][0]-'0')*600 + int(m[1][1]-'0')*60 + int(m[2][0]-'0')*10 + int(m[2][1]-'0'), nil
}

func dateKey(y int, m time.Month, d int) int { return y*10000 + int(m)*100 + d }

// bind checks the rules against the role map and indexes them.
func (p *AccessHours) bind(roles idmirror.RoleMap) error {
	if err := roles.Validate(); err != nil {
		return err
	}
	p.roles = roles
	p.index = make(map[string]int, len(roles.Roles))
	p.groupRole = map[string]int{}
	for i, r := range roles.Roles {
		p.index[r.Name] = i
		for _, g := range r.Groups {
			p.groupRole[g] = i
		}
	}
	p.ruleByRole = make([]HoursRule, len(roles.Roles))
	p.floorIndex = make([]int, len(roles.Roles))
	for _, name := range slices.Sorted(maps.Keys(p.Roles)) {
		rule := p.Roles[name]
		i, ok := p.index[name]
		if !ok {
			return hoursErr("role %q is not in the role map", name)
		}
		switch rule.Outside {
		case HoursAllow, HoursAlert, HoursDeny:
			if rule.Floor != "" {
				return hoursErr("role %q: a floor is for downgrade only", name)
			}
		case HoursDowngrade:
			if rule.Floor == "" {
				return hoursErr("role %q: downgrade needs a floor (the highest role kept)", name)
			}
			f, ok := p.index[rule.Floor]
			if !ok {
				return hoursErr("role %q: floor %q is not in the role map", name, rule.Floor)
			}
			if f <= i {
				return hoursErr("role %q: floor %q must be a role below it in the role map", name, rule.Floor)
			}
			p.floorIndex[i] = f
		case "":
			return hoursErr("role %q: outside missing (allow, alert, downgrade or deny)", name)
		default:
			return hoursErr("role %q: outside %q: want allow, alert, downgrade or deny", name, rule.Outside)
		}
		p.ruleByRole[i] = rule
	}
	p.roleArns = p.GroupIAMRoles
	return nil
}

// Within reports whether now is inside working hours.
func (p *AccessHours) Within(now time.Time) bool {
	t := now.In(p.loc)
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	m := h*60 + mi
	if p.start < p.end {
		return m >= p.start && m < p.end && p.workday(y, mo, d)
	}
	if m >= p.start && p.workday(y, mo, d) {
		return true
	}
	if m < p.end {
		y, mo, d = time.Date(y, mo, d-1, 12, 0, 0, 0, time.UTC).Date()
		return p.workday(y, mo, d)
	}
	return false
}

func (p *AccessHours) workday(y int, mo time.Month, d int) bool {
	wd := time.Date(y, mo, d, 12, 0, 0, 0, time.UTC).Weekday()
	return p.days[wd] && !p.holidays[dateKey(y, mo, d)]
}

// HoursStep is one rule applied to a token outside working hours.
type HoursStep struct {
	Role   string      // the role whose rule it was
	Action HoursAction // alert, downgrade or deny
	Floor  string      // downgrade: the floor
}

// HoursDecision is what the policy does with one token.
type HoursDecision struct {
	Outside bool            // now is outside working hours
	Action  HoursAction     // the strongest action taken (allow when nothing was)
	Kept    []idmirror.Role // the roles the token carries: those held, less any withheld; nil on deny
	Steps   []HoursStep     // the rules applied, in order (none within hours)
}

// Withheld reports whether a downgrade took roles away.
func (d HoursDecision) Withheld() bool { return d.Action == HoursDowngrade }

// Decide applies the policy to a user holding roles held (in precedence
// order, as RoleMap.RolesFor returns them) at instant now. Within working
// hours, or for a user with no role, the token is issued as is. Outside, the
// rule of the highest role held applies: allow or alert keeps every role;
// deny refuses the token; downgrade withholds the roles above its floor (never
// adding one: what is left is a part of what the groups give) and then the
// rule of the highest role left applies, as it would to a user holding only
// those roles. Pure: no clock, no I/O.
func (p *AccessHours) Decide(now time.Time, held []idmirror.Role) HoursDecision {
	if p == nil || len(held) == 0 {
		return HoursDecision{Action: HoursAllow, Kept: held}
	}
	if p.Within(now) {
		return HoursDecision{Action: HoursAllow, Kept: held}
	}
	dec := HoursDecision{Outside: true, Action: HoursAllow, Kept: held}
	for len(dec.Kept) > 0 {
		i, ok := p.index[dec.Kept[0].Name]
		if !ok {
			return dec // a role of another map: nothing to apply
		}
		rule := p.ruleByRole[i]
		switch rule.Outside {
		case HoursAlert:
			dec.Steps = append(dec.Steps, HoursStep{Role: dec.Kept[0].Name, Action: HoursAlert})
			dec.Action = stronger(dec.Action, HoursAlert)
			return dec
		case HoursDeny:
			dec.Steps = append(dec.Steps, HoursStep{Role: dec.Kept[0].Name, Action: HoursDeny})
			dec.Action = HoursDeny
			dec.Kept = nil
			return dec
		case HoursDowngrade:
			dec.Steps = append(dec.Steps, HoursStep{Role: dec.Kept[0].Name, Action: HoursDowngrade, Floor: rule.Floor})
			dec.Action = stronger(dec.Action, HoursDowngrade)
			floor := p.floorIndex[i]
			k := 0
			for k < len(dec.Kept) {
				if j, ok := p.index[dec.Kept[k].Name]; ok && j >= floor {
					break
				}
				k++
			}
			if k == 0 {
				k = 1 // the rule's own role is above its floor (bind checks it): always withheld
			}
			dec.Kept = dec.Kept[k:]
			if len(dec.Kept) == 0 {
				dec.Kept = nil
			}
		default: // allow
			return dec
		}
	}
	return dec
}

func stronger(a, b HoursAction) HoursAction {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// keepsGroup reports whether a downgrade that kept the roles kept leaves the
// group in the token: groups that grant no role stay, groups of a withheld
// role go.
func (p *AccessHours) keepsGroup(g string, kept []idmirror.Role) bool {
	i, ok := p.groupRole[g]
	if !ok {
		return true
	}
	name := p.roles.Roles[i].Name
	for _, r := range kept {
		if r.Name == name {
			return true
		}
	}
	return false
}

// narrowGroups is the groupOverrideDetails of a downgraded token: the groups
// kept, the IAM roles of the groups kept (by GroupIAMRoles; an ARN it does not
// attribute to a kept group is withheld), and the preferred role if it is
// still among them (else none: an identity pool then applies its
// ambiguous-role resolution).
func (p *AccessHours) narrowGroups(in groupConfiguration, kept []idmirror.Role) groupConfiguration {
	out := groupConfiguration{GroupsToOverride: make([]string, 0, len(in.GroupsToOverride)), IAMRolesToOverride: []string{}}
	for _, g := range in.GroupsToOverride {
		if p.keepsGroup(g, kept) {
			out.GroupsToOverride = append(out.GroupsToOverride, g)
		}
	}
	keptArn := func(arn string) bool { // a handful of groups: a scan beats a map
		for _, g := range out.GroupsToOverride {
			if a, ok := p.roleArns[g]; ok && a == arn {
				return true
			}
		}
		return false
	}
	for _, arn := range in.IAMRolesToOverride {
		if keptArn(arn) {
			out.IAMRolesToOverride = append(out.IAMRolesToOverride, arn)
		}
	}
	if in.PreferredRole != nil && keptArn(*in.PreferredRole) {
		out.PreferredRole = in.PreferredRole
	}
	return out
}
