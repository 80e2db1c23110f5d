package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
)

// Claim names the pre-token handler adds. Cognito reserves others (sub, aud,
// iss, token_use, cognito:*, …); these two are never among them.
const (
	ClaimRoles = "roles"
	ClaimRole  = "role"
)

// PreToken answers Cognito's pre-token-generation trigger with role claims
// and scopes derived from the user's groups, as Cognito lists them in the
// event's groupConfiguration. It does no I/O and reads nothing a user can
// write (attributes, client metadata).
type PreToken struct {
	roles idmirror.RoleMap
	log   *zap.Logger
}

// NewPreToken validates the role map and returns the handler.
func NewPreToken(roles idmirror.RoleMap, log *zap.Logger) (*PreToken, error) {
	if err := roles.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &PreToken{roles: roles, log: log}, nil
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

// V1 answer: ID-token claims, string values only.
type responseV1 struct {
	ClaimsOverrideDetails struct {
		ClaimsToAddOrOverride map[string]string `json:"claimsToAddOrOverride,omitempty"`
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
		} `json:"accessTokenGeneration"`
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
	names := make([]string, len(held))
	var scopes []string
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
	var resp []byte
	var err error
	switch ev.Version {
	case "2", "3":
		var r responseV2
		d := &r.ClaimsAndScopeOverrideDetails
		claims := map[string]any{ClaimRoles: names, ClaimRole: names[0]}
		d.IDTokenGeneration.ClaimsToAddOrOverride = claims
		d.AccessTokenGeneration.ClaimsToAddOrOverride = claims
		d.AccessTokenGeneration.ScopesToAdd = scopes
		resp, err = json.Marshal(&r)
	default: // "1", and "0" from cognito-local
		var r responseV1
		r.ClaimsOverrideDetails.ClaimsToAddOrOverride = map[string]string{
			ClaimRoles: strings.Join(names, " "), ClaimRole: names[0],
		}
		resp, err = json.Marshal(&r)
	}
	if err != nil {
		return nil, err
	}
	return setResponse(raw, resp)
}
