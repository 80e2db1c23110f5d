package idmirror

import "strings"

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

// String is a short display: the ARN (with the source IP), else the detail.
func (a Actor) String() string {
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
	if a.SourceIP != "" {
		parts = append(parts, "from "+a.SourceIP)
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
