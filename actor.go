package idmirror

import (
	"strings"
	"time"
)

// Actor says who made a change, as far as idmirror knows it. Only the
// refresher knows the caller of a Cognito API (CloudTrail's userIdentity);
// sync only observes, restore knows its operator, a trigger knows its
// trigger source and app client.
type Actor struct {
	// Type is CloudTrail's userIdentity.type (IAMUser, AssumedRole, Root,
	// AWSService, Unknown, ...) or one of ours: ActorSync, ActorTrigger,
	// ActorRestore, ActorUnknown.
	Type          string `json:"type,omitempty"`
	ARN           string `json:"arn,omitempty"`
	PrincipalID   string `json:"principal_id,omitempty"`
	SessionIssuer string `json:"session_issuer,omitempty"` // the role a session was issued from
	AccessKeyID   string `json:"access_key_id,omitempty"`
	SourceIP      string `json:"source_ip,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	EventID       string `json:"event_id,omitempty"`  // CloudTrail eventID
	RunID         string `json:"run_id,omitempty"`    // restore run
	ClientID      string `json:"client_id,omitempty"` // trigger: the app client
	Detail        string `json:"detail,omitempty"`    // trigger source, or "observed, actor unknown"
	// Inferred: attached by a late CloudTrail event to a change the
	// reconcile recorded first. The call makes that change, but Cognito
	// keeps no membership dates: an earlier, unobserved change of the same
	// effect by someone else cannot be ruled out.
	Inferred bool `json:"inferred,omitempty"`
}

// Our actor types.
const (
	ActorSync    = "idmirror-sync"    // the reconcile observed the change; who made it is unknown
	ActorTrigger = "cognito-trigger"  // Cognito invoked a trigger; Detail is the trigger source
	ActorRestore = "idmirror-restore" // an idmirror restore run; ARN is the operator's identity
	ActorUnknown = "unknown"
)

// SyncActor is the actor of changes the reconcile finds: observed, actor unknown.
func SyncActor() Actor { return Actor{Type: ActorSync, Detail: "sync (observed, actor unknown)"} }

// IsZero reports whether nothing is known.
func (a Actor) IsZero() bool { return a == Actor{} }

// String is a short display: Who, and the source IP.
func (a Actor) String() string {
	if a.SourceIP == "" {
		return a.Who()
	}
	if w := a.Who(); w != "" {
		return w + " from " + a.SourceIP
	}
	return "from " + a.SourceIP
}

// Who is the actor without the source IP: the ARN, else the detail, with
// the restore run and the app client where known.
func (a Actor) Who() string {
	var parts []string
	switch {
	case a.ARN != "":
		parts = append(parts, a.ARN)
	case a.Detail != "":
		parts = append(parts, a.Detail)
	case a.Type != "":
		parts = append(parts, a.Type)
	}
	if a.RunID != "" {
		parts = append(parts, "run "+a.RunID)
	}
	if a.ClientID != "" {
		parts = append(parts, "client "+a.ClientID)
	}
	if a.Inferred {
		parts = append(parts, "(inferred from a late event)")
	}
	return strings.Join(parts, " ")
}

// Matches reports whether the actor's ARN, principal, session issuer, access
// key or detail contains s (case-insensitively): `audit changes --actor`.
func (a Actor) Matches(s string) bool {
	s = strings.ToLower(s)
	for _, v := range []string{a.ARN, a.PrincipalID, a.SessionIssuer, a.AccessKeyID, a.Detail, a.Type, a.RunID} {
		if v != "" && strings.Contains(strings.ToLower(v), s) {
			return true
		}
	}
	return false
}

// Explanation is a late event's claim to have caused a change the mirror
// already recorded (the reconcile found it first, actor unknown). The mirror
// attaches Actor to the earliest history item of the entity observed at or
// after Since whose change of Field satisfies Matches, if that item's actor
// is still unknown; a membership grant (Group set) gets it on its interval
// too. Nothing else changes and nothing is added: a second explanation of the
// same item finds its actor known and does nothing.
type Explanation struct {
	Kind   string // "user" or "group"
	PoolID string
	Key    string    // sub or group name
	Since  time.Time // the event's time less the clock-skew allowance
	Until  time.Time // the latest observation the event may explain (zero: no bound)
	// Settled: an observation at or after it certainly follows the call
	// (the event's time plus its truncation to seconds and the skew
	// allowance). A different change of Field observed before it may have
	// preceded the call and is passed over; one after it ends the search.
	Settled time.Time
	Field   string // the field the event changes ("groups", "enabled", "deleted", "username", an attribute)
	Matches func(FieldChange) bool
	Group   string // for a grant: the group whose interval gets the actor too
	Actor   Actor
}

// ActorUnknown reports whether a recorded actor may still be explained by a
// late event: none recorded, or the reconcile's "observed, actor unknown".
func (a Actor) Unknown() bool { return a.IsZero() || a.Type == ActorSync }

// Explains applies e's test to a history item, in order from Since: stop
// says the search ends here (the first item that changed e.Field, or one
// past Until), attach that this item is the one to credit — it changed the
// field as the call does and its actor is still unknown. An item observed
// after Settled that changed the field otherwise ends the search too: the
// call's change, if it was ever observed, was not that one.
func (e Explanation) Explains(c Change) (stop, attach bool) {
	if !e.Until.IsZero() && c.At.After(e.Until) {
		return true, false
	}
	fc, ok := c.Fields[e.Field]
	if !ok {
		return false, false
	}
	if e.Matches != nil && !e.Matches(fc) {
		return !c.At.Before(e.Settled), false
	}
	return true, c.Actor.Unknown()
}

// Applied is what one write did, for observers: the history item it added
// (nil when it added none — a late first observation only patches), the
// entity's full state after it (flattened as Fields does) and the membership
// intervals it opened, each with who granted it.
type Applied struct {
	Kind   string // user, group, config, rolemap
	PoolID string
	Key    string
	Change *Change
	After  map[string]string
	Grants []Membership
}

// ChangeObserver learns of every write a mirror store commits — or may have
// committed: a write whose answer was lost is reported too, so that what it
// records is never silently missed (an observer may hear of a write twice,
// never of a committed write not at all, short of the process dying between
// the write and the report). The security events are derived from it.
type ChangeObserver func(a Applied)
