package sync

import (
	"slices"
	"strings"
	"time"

	"github.com/idmirror/idmirror"
)

// SkewAllowance is how far before a CloudTrail event's time the mirror's
// observation of its change may lie and still be explained by it: the
// reconcile's clock and CloudTrail's may disagree by this much. The change
// must match the event's own effect too, so a wider window cannot pin an
// event on an unrelated change.
const SkewAllowance = 2 * time.Second

// MaxExplainDelay bounds how long after a call the change it explains may
// have been observed: the reconcile runs hourly by default, so a change the
// call made is observed within about an hour; an event redriven days later
// from the dead-letter queue attaches to nothing newer than this.
const MaxExplainDelay = 3 * time.Hour

// scopeOf names the field groups a call changes, so that a refresh credits
// the call's caller with those alone: the refresh re-reads the whole user,
// and what else it finds changed was observed, not made by this caller.
// AllFields: the call made the whole user (AdminCreateUser); 0: the call's
// effect is not one field group (provider links).
func scopeOf(name string) idmirror.Fields {
	switch name {
	case "AdminAddUserToGroup", "AdminRemoveUserFromGroup":
		return idmirror.FieldGroups
	case "AdminEnableUser", "AdminDisableUser":
		return idmirror.FieldEnabled
	case "AdminUpdateUserAttributes", "UpdateUserAttributes", "AdminDeleteUserAttributes", "DeleteUserAttributes", "VerifyUserAttribute":
		return idmirror.FieldAttributes
	case "AdminSetUserMFAPreference", "SetUserMFAPreference":
		return idmirror.FieldMFA
	case "AdminConfirmSignUp", "ConfirmSignUp", "AdminSetUserPassword", "AdminResetUserPassword":
		return idmirror.FieldStatus
	case "AdminCreateUser":
		return idmirror.AllFields
	}
	return 0
}

// observedActor is the actor of what a refresh finds changed beyond its
// call's own effect.
func observedActor(name string) idmirror.Actor {
	return idmirror.Actor{Type: idmirror.ActorSync, Detail: "refresh after " + name + " (observed, actor unknown)"}
}

// actorOf reads who made the call from a CloudTrail record: userIdentity
// (type, arn, principalId, accessKeyId, sessionContext.sessionIssuer.arn),
// sourceIPAddress, userAgent and eventID, as "CloudTrail userIdentity
// element" (AWS CloudTrail User Guide,
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html)
// and "Example Amazon Cognito events" (Cognito Developer Guide) describe
// them. Calls made with a user's access token or none (ConfirmSignUp,
// UpdateUserAttributes) carry little identity: the type says so, and the
// detail names the call.
func actorOf(ev CloudTrailEvent) idmirror.Actor {
	id, _ := ev.Detail["userIdentity"].(map[string]any)
	a := idmirror.Actor{
		Type: str(id, "type"), ARN: str(id, "arn"), PrincipalID: str(id, "principalId"), AccessKeyID: str(id, "accessKeyId"),
		SourceIP: ev.detail("sourceIPAddress"), UserAgent: ev.detail("userAgent"), EventID: ev.detail("eventID"),
		Detail: "CloudTrail " + ev.detail("eventName"),
	}
	if sc, ok := id["sessionContext"].(map[string]any); ok {
		if si, ok := sc["sessionIssuer"].(map[string]any); ok {
			a.SessionIssuer = str(si, "arn")
		}
	}
	if by := str(id, "invokedBy"); by != "" {
		a.Detail += " invoked by " + by
	}
	if a.Type == "" {
		a.Type = idmirror.ActorUnknown
	}
	return a
}

// explanationOf says which recorded change a call makes, so a late event
// can be matched to the history item it explains; ok is false for calls
// whose effect cannot be told from the record (hidden parameters).
func explanationOf(ev CloudTrailEvent, name string) (e idmirror.Explanation, ok bool) {
	req := ev.params("requestParameters")
	is := func(v string) func(idmirror.FieldChange) bool {
		return func(fc idmirror.FieldChange) bool { return fc.After == v }
	}
	anyChange := func(idmirror.FieldChange) bool { return true }
	e.Kind = "user"
	switch name {
	case "AdminAddUserToGroup", "AdminRemoveUserFromGroup":
		g := str(req, "groupName")
		if g == "" || g == Hidden {
			return e, false
		}
		add := name == "AdminAddUserToGroup"
		e.Field, e.Matches = "groups", func(fc idmirror.FieldChange) bool {
			before, after := slices.Contains(splitList(fc.Before), g), slices.Contains(splitList(fc.After), g)
			return before != add && after == add
		}
		if add {
			e.Group = g
		}
	case "AdminDisableUser":
		e.Field, e.Matches = "enabled", is("false")
	case "AdminEnableUser":
		e.Field, e.Matches = "enabled", func(fc idmirror.FieldChange) bool { return fc.Before == "false" && fc.After == "true" }
	case "AdminDeleteUser", "DeleteUser":
		e.Field, e.Matches = "deleted", is("true")
	case "AdminCreateUser":
		e.Field, e.Matches = "username", func(fc idmirror.FieldChange) bool { return fc.Before == "" && fc.After != "" }
	case "AdminConfirmSignUp", "ConfirmSignUp":
		e.Field, e.Matches = "status", is("CONFIRMED")
	case "AdminSetUserPassword", "AdminResetUserPassword":
		e.Field, e.Matches = "status", anyChange
	case "AdminSetUserMFAPreference", "SetUserMFAPreference":
		e.Field, e.Matches = "mfa", anyChange
	case "AdminUpdateUserAttributes", "UpdateUserAttributes":
		attrs, _ := req["userAttributes"].([]any)
		for _, a := range attrs {
			if m, ok := a.(map[string]any); ok && str(m, "name") != "" && str(m, "name") != Hidden {
				e.Field, e.Matches = str(m, "name"), anyChange
				break
			}
		}
	case "AdminDeleteUserAttributes", "DeleteUserAttributes":
		names, _ := req["userAttributeNames"].([]any)
		if len(names) > 0 {
			if n, _ := names[0].(string); n != "" && n != Hidden {
				e.Field, e.Matches = n, is("")
			}
		}
	case "CreateGroup":
		e.Kind, e.Field, e.Matches = "group", "name", func(fc idmirror.FieldChange) bool { return fc.Before == "" }
	case "DeleteGroup":
		e.Kind, e.Field, e.Matches = "group", "deleted", is("true")
	case "UpdateGroup":
		e.Kind = "group"
		for _, p := range [][2]string{{"description", "description"}, {"precedence", "precedence"}, {"roleArn", "role_arn"}} {
			if _, ok := req[p[0]]; ok {
				e.Field, e.Matches = p[1], anyChange
				break
			}
		}
	}
	if e.Field == "" {
		return e, false
	}
	e.Actor = actorOf(ev)
	return e, true
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
