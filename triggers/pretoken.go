package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/security"
)

// Claim names the pre-token handler adds. Cognito reserves others (sub, aud,
// iss, token_use, cognito:*, …); these two are never among them.
const (
	ClaimRoles = "roles"
	ClaimRole  = "role"
)

// ErrOutsideHours is the error a deny rule of the business-hours policy
// returns: Cognito then issues no token, and the sign-in or refresh call fails
// with UserLambdaValidationException (https://docs.aws.amazon.com/botocore/latest/reference/services/cognito-idp/client/exceptions/UserLambdaValidationException.html);
// managed login shows an error or redirects with one
// (https://docs.aws.amazon.com/cognito/latest/developerguide/federation-endpoint-idp-responses.html).
// AWS does not say whether this text reaches the user; it may, so it says no
// more than this.
var ErrOutsideHours = errors.New("sign-in refused outside working hours")

// PreTokenOptions configures the handler.
type PreTokenOptions struct {
	// Hours is the business-hours policy (nil: none). It must have been
	// parsed with the handler's role map.
	Hours *AccessHours
	// Security receives the out-of-hours security events (nil: none).
	Security *security.Emitter
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// PreToken answers Cognito's pre-token-generation trigger with role claims
// and scopes derived from the user's groups, as Cognito lists them in the
// event's groupConfiguration, under the business-hours policy if there is
// one. It does no I/O and reads nothing a user can write (attributes, client
// metadata).
type PreToken struct {
	roles idmirror.RoleMap
	log   *zap.Logger
	opt   PreTokenOptions
}

// NewPreToken validates the role map (and binds the policy to it) and returns
// the handler.
func NewPreToken(roles idmirror.RoleMap, log *zap.Logger, o PreTokenOptions) (*PreToken, error) {
	if err := roles.Validate(); err != nil {
		return nil, err
	}
	if o.Hours != nil {
		bound := *o.Hours
		if err := bound.bind(roles); err != nil {
			return nil, err
		}
		o.Hours = &bound
	}
	if log == nil {
		log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &PreToken{roles: roles, log: log, opt: o}, nil
}

// groupConfiguration is the event's groups and IAM roles, and the shape of
// the response's groupOverrideDetails.
type groupConfiguration struct {
	GroupsToOverride   []string `json:"groupsToOverride"`
	IAMRolesToOverride []string `json:"iamRolesToOverride"`
	PreferredRole      *string  `json:"preferredRole"`
}

// preTokenEvent is the part of the event the handler reads.
type preTokenEvent struct {
	Version       string `json:"version"`
	TriggerSource string `json:"triggerSource"`
	UserPoolID    string `json:"userPoolId"`
	UserName      string `json:"userName"`
	Request       struct {
		GroupConfiguration struct {
			GroupsToOverride []string `json:"groupsToOverride"`
		} `json:"groupConfiguration"`
	} `json:"request"`
}

// member returns the text of the value at path in the JSON object raw (nil
// if absent). Outside working hours the handler reads the sub and the IAM
// roles with it, so the path within hours decodes no more than without a
// policy.
func member(raw []byte, path ...string) []byte {
	for _, k := range path {
		s, e, ok, err := findMember(raw, k)
		if err != nil || !ok {
			return nil
		}
		raw = raw[s:e]
	}
	return raw
}

// subOf is the user's sub, for the security event ("" if the event has none).
func subOf(raw []byte) string {
	v := member(raw, "request", "userAttributes", "sub")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && !bytes.ContainsRune(v, '\\') {
		return string(v[1 : len(v)-1])
	}
	var sub string
	_ = json.Unmarshal(v, &sub)
	return sub
}

// V1 answer: ID-token claims, string values only.
type responseV1 struct {
	ClaimsOverrideDetails struct {
		ClaimsToAddOrOverride map[string]string   `json:"claimsToAddOrOverride,omitempty"`
		GroupOverrideDetails  *groupConfiguration `json:"groupOverrideDetails,omitempty"`
	} `json:"claimsOverrideDetails"`
}

// V2/V3 answer: claims in both tokens, scopes on the access token.
type responseV2 struct {
	ClaimsAndScopeOverrideDetails struct {
		IDTokenGeneration struct {
			ClaimsToAddOrOverride map[string]any `json:"claimsToAddOrOverride,omitempty"`
		} `json:"idTokenGeneration"`
		AccessTokenGeneration struct {
			ClaimsToAddOrOverride map[string]any `json:"claimsToAddOrOverride,omitempty"`
			ScopesToAdd           []string       `json:"scopesToAdd,omitempty"`
			ScopesToSuppress      []string       `json:"scopesToSuppress,omitempty"`
		} `json:"accessTokenGeneration"`
		GroupOverrideDetails *groupConfiguration `json:"groupOverrideDetails,omitempty"`
	} `json:"claimsAndScopeOverrideDetails"`
}

var tokenSources = map[string]bool{
	"TokenGeneration_HostedAuth":             true,
	"TokenGeneration_Authentication":         true,
	"TokenGeneration_NewPasswordChallenge":   true,
	"TokenGeneration_AuthenticateDevice":     true,
	"TokenGeneration_RefreshTokens":          true,
	"TokenGeneration_ClientCredentials":      true,
	"TokenGeneration_ManagedLoginWebAuthn":   true,
	"TokenGeneration_NewPasswordChallengeV2": true,
}

// Invoke answers one event (the Lambda runtime's lambda.Handler): the event
// back, with its response filled.
func (h *PreToken) Invoke(ctx context.Context, raw []byte) ([]byte, error) {
	var ev preTokenEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("%w: pre-token event: %v", idmirror.ErrInvalid, err)
	}
	if !tokenSources[ev.TriggerSource] {
		return nil, fmt.Errorf("%w: pre-token event: unknown trigger source %q", idmirror.ErrInvalid, ev.TriggerSource)
	}
	if ev.TriggerSource == "TokenGeneration_ClientCredentials" {
		return raw, nil // machine-to-machine: no user, nothing to add
	}
	if ev.UserPoolID == "" || ev.UserName == "" {
		return nil, fmt.Errorf("%w: pre-token event: missing userPoolId or userName", idmirror.ErrInvalid)
	}
	held := h.roles.RolesFor(ev.Request.GroupConfiguration.GroupsToOverride)
	if len(held) == 0 {
		return raw, nil // an outsider: no role claim, no scope
	}
	var groups *groupConfiguration
	var suppress []string
	if h.opt.Hours != nil {
		dec := h.opt.Hours.Decide(h.opt.Now(), held)
		if dec.Action != HoursAllow {
			h.report(&ev, subOf(raw), dec)
		}
		switch {
		case dec.Action == HoursDeny:
			return nil, ErrOutsideHours
		case dec.Withheld():
			// The IAM roles, read now (absent or unreadable: none kept, the safe side).
			var in struct {
				IAMRolesToOverride []string `json:"iamRolesToOverride"`
				PreferredRole      *string  `json:"preferredRole"`
			}
			_ = json.Unmarshal(member(raw, "request", "groupConfiguration"), &in)
			g := h.opt.Hours.narrowGroups(groupConfiguration{GroupsToOverride: ev.Request.GroupConfiguration.GroupsToOverride,
				IAMRolesToOverride: in.IAMRolesToOverride, PreferredRole: in.PreferredRole}, dec.Kept)
			groups = &g
			suppress = withheldScopes(held, dec.Kept)
			held = dec.Kept
		}
	}
	var names []string
	var scopes []string
	if len(held) > 0 {
		names = make([]string, len(held))
		seen := map[string]bool{}
		for i, r := range held {
			names[i] = r.Name
			for _, s := range r.Scopes {
				if !seen[s] {
					seen[s] = true
					scopes = append(scopes, s)
				}
			}
		}
	}
	var resp []byte
	var err error
	switch ev.Version {
	case "2", "3":
		var r responseV2
		d := &r.ClaimsAndScopeOverrideDetails
		if len(names) > 0 {
			claims := map[string]any{ClaimRoles: names, ClaimRole: names[0]}
			d.IDTokenGeneration.ClaimsToAddOrOverride = claims
			d.AccessTokenGeneration.ClaimsToAddOrOverride = claims
		}
		d.AccessTokenGeneration.ScopesToAdd = scopes
		d.AccessTokenGeneration.ScopesToSuppress = suppress
		d.GroupOverrideDetails = groups
		resp, err = json.Marshal(&r)
	default: // "1", and "0" from cognito-local
		var r responseV1
		if len(names) > 0 {
			r.ClaimsOverrideDetails.ClaimsToAddOrOverride = map[string]string{
				ClaimRoles: strings.Join(names, " "), ClaimRole: names[0],
			}
		}
		r.ClaimsOverrideDetails.GroupOverrideDetails = groups
		resp, err = json.Marshal(&r)
	}
	if err != nil {
		return nil, err
	}
	return setResponse(raw, resp)
}

// withheldScopes lists the scopes of the roles withheld that no kept role
// carries: a downgraded access token must not keep them even when the app
// client asked for them.
func withheldScopes(held, kept []idmirror.Role) []string {
	var out []string
	for _, r := range held {
		for _, sc := range r.Scopes {
			if !slices.Contains(out, sc) && !slices.ContainsFunc(kept, func(k idmirror.Role) bool { return slices.Contains(k.Scopes, sc) }) {
				out = append(out, sc)
			}
		}
	}
	return out
}

// report emits the security event of a token outside working hours: one per
// token, of the strongest action taken, naming the role whose rule took it;
// its detail lists every rule applied.
func (h *PreToken) report(ev *preTokenEvent, sub string, dec HoursDecision) {
	e := security.Event{PoolID: ev.UserPoolID, Sub: sub, Source: string(idmirror.SourceTrigger)}
	switch dec.Action {
	case HoursAlert:
		e.Kind = security.OutOfHoursAllowed
	case HoursDowngrade:
		e.Kind = security.OutOfHoursDowngrade
	case HoursDeny:
		e.Kind = security.OutOfHoursDenied
	default:
		return
	}
	kept := "none"
	if len(dec.Kept) > 0 {
		kept = dec.Kept[0].Name
	}
	n := len(ev.TriggerSource) + len("; highest role kept ") + len(kept)
	for _, s := range dec.Steps {
		n += len(s.Role) + len(s.Action) + len(s.Floor) + 8
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(ev.TriggerSource)
	for _, s := range dec.Steps {
		if s.Action == dec.Action && e.Role == "" {
			e.Role = s.Role
		}
		b.WriteString("; ")
		b.WriteString(s.Role)
		b.WriteByte(' ')
		b.WriteString(string(s.Action))
		if s.Floor != "" {
			b.WriteString(" to ")
			b.WriteString(s.Floor)
		}
	}
	if dec.Action == HoursDowngrade {
		b.WriteString("; highest role kept ")
		b.WriteString(kept)
	}
	e.Detail = b.String()
	h.opt.Security.Emit(e)
}
