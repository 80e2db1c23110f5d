// Package idmirror holds the domain of idmirror: the identities of an Amazon
// Cognito user pool (users, groups, the pool's configuration, the role map),
// the writes and changes the mirror records and where each came from, and the
// pure rules that merge an observation into the mirrored state (MergeUser,
// MergeWhole). The stores (mirror.Store on DynamoDB, memmirror.Store in
// memory) apply those merges; the packages that use a store (sync, restore,
// audit, triggers) each declare the small interface they need.
//
// Nothing in this package does I/O.
package idmirror

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Source says which part of idmirror observed a change.
type Source string

// The sources of changes recorded in the mirror's history.
const (
	SourceTrigger Source = "trigger" // a Cognito Lambda trigger
	SourceSync    Source = "sync"    // the full reconcile
	SourceEvent   Source = "event"   // the CloudTrail/EventBridge refresh
	SourceRestore Source = "restore" // idmirror restore
)

// Valid reports whether s is one of the known sources.
func (s Source) Valid() bool {
	switch s {
	case SourceTrigger, SourceSync, SourceEvent, SourceRestore:
		return true
	}
	return false
}

// Sentinel errors. Adapters translate the errors of AWS services into these,
// so callers test with errors.Is and never inspect AWS error types.
var (
	// ErrNotFound: the user or group does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPoolNotFound: the user pool itself does not exist (deleted, or a wrong id).
	ErrPoolNotFound = errors.New("user pool not found")
	// ErrStale: the write observed the state earlier than what is stored; nothing was written.
	ErrStale = errors.New("observation older than the stored state")
	// ErrConflict: a concurrent writer kept winning; the write was not applied.
	ErrConflict = errors.New("concurrent update conflict")
	// ErrExists: the user or group already exists.
	ErrExists = errors.New("already exists")
	// ErrThrottled: the service refused the call for its rate quota.
	ErrThrottled = errors.New("throttled")
	// ErrInvalid: the input is malformed; the error text names the problem.
	ErrInvalid = errors.New("invalid input")
)

// MFA is a user's multi-factor preferences, as AdminGetUser reports them.
type MFA struct {
	SMSEnabled  bool   `json:"sms_enabled,omitempty"`
	TOTPEnabled bool   `json:"totp_enabled,omitempty"`
	Preferred   string `json:"preferred,omitempty"` // SMS_MFA or SOFTWARE_TOKEN_MFA
}

// User is one identity of a user pool as the mirror keeps it.
type User struct {
	PoolID   string `json:"pool_id"`
	Sub      string `json:"sub"`
	Username string `json:"username"`
	// Attributes holds every standard and custom attribute except sub,
	// with Cognito's names ("email", "custom:tenant").
	Attributes map[string]string `json:"attributes,omitempty"`
	Status     string            `json:"status,omitempty"` // CONFIRMED, UNCONFIRMED, FORCE_CHANGE_PASSWORD, RESET_REQUIRED, EXTERNAL_PROVIDER …
	Enabled    bool              `json:"enabled"`
	Groups     []string          `json:"groups,omitempty"` // sorted
	MFA        MFA               `json:"mfa"`
	// Created and Modified are Cognito's UserCreateDate and UserLastModifiedDate.
	Created  time.Time `json:"created,omitzero"`
	Modified time.Time `json:"modified,omitzero"`
	// Deleted marks a tombstone: the user is gone from the pool; the rest is its last known state.
	Deleted bool `json:"deleted,omitempty"`
	// Origin links a restored user to the mirror entry it was restored
	// from: "<source pool>/<old sub>".
	Origin string `json:"origin,omitempty"`
}

// Email returns the user's email attribute, or "".
func (u User) Email() string { return u.Attributes["email"] }

// Fields flattens the user to field name → canonical string value. The
// mirror diffs two flattenings to find what a write changes; the names are
// the "field" of a history item (attributes keep their Cognito names).
func (u User) Fields() map[string]string {
	f := make(map[string]string, len(u.Attributes)+8)
	for k, v := range u.Attributes {
		f[k] = v
	}
	f["username"] = u.Username
	f["status"] = u.Status
	f["enabled"] = strconv.FormatBool(u.Enabled)
	f["groups"] = strings.Join(SortedUnique(u.Groups), ",")
	f["mfa"] = u.MFA.String()
	if u.Deleted {
		f["deleted"] = "true"
	}
	f["origin"] = u.Origin
	return dropEmpty(f)
}

func (m MFA) String() string {
	var parts []string
	if m.SMSEnabled {
		parts = append(parts, "sms")
	}
	if m.TOTPEnabled {
		parts = append(parts, "totp")
	}
	if m.Preferred != "" {
		parts = append(parts, "preferred="+m.Preferred)
	}
	return strings.Join(parts, ",")
}

// Group is a Cognito group: the source of roles.
type Group struct {
	PoolID      string `json:"pool_id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Precedence  *int32 `json:"precedence,omitempty"`
	RoleArn     string `json:"role_arn,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// Fields flattens the group for diffing, like User.Fields.
func (g Group) Fields() map[string]string {
	f := map[string]string{"name": g.Name, "description": g.Description, "role_arn": g.RoleArn}
	if g.Precedence != nil {
		f["precedence"] = strconv.Itoa(int(*g.Precedence))
	}
	if g.Deleted {
		f["deleted"] = "true"
	}
	return dropEmpty(f)
}

// SchemaAttribute is one attribute of a pool's schema.
type SchemaAttribute struct {
	Name     string `json:"name"` // "email", "custom:tenant"
	DataType string `json:"type,omitempty"`
	Mutable  bool   `json:"mutable"`
	Required bool   `json:"required,omitempty"`
}

// PoolConfig is the part of a pool's configuration a restore must check a
// target pool against.
type PoolConfig struct {
	PoolID             string            `json:"pool_id"`
	Name               string            `json:"name,omitempty"`
	Schema             []SchemaAttribute `json:"schema,omitempty"`
	UsernameAttributes []string          `json:"username_attributes,omitempty"`
	AliasAttributes    []string          `json:"alias_attributes,omitempty"`
	MFA                string            `json:"mfa,omitempty"` // OFF, ON, OPTIONAL
	// AdminCreateOnly is AdminCreateUserConfig.AllowAdminCreateUserOnly:
	// self sign-up is closed.
	AdminCreateOnly bool `json:"admin_create_only,omitempty"`
	// CaseSensitive is UsernameConfiguration.CaseSensitive; nil when the pool
	// reports none (AWS: a pool created without it is case sensitive).
	CaseSensitive *bool `json:"case_sensitive,omitempty"`
	// AccountRecovery lists AccountRecoverySetting's mechanisms by priority
	// (verified_email, verified_phone_number, admin_only).
	AccountRecovery []string `json:"account_recovery,omitempty"`

	// Recorded since issue 16 (what `idmirror pool create` needs); each is
	// left out of Fields while unset, so a configuration recorded before
	// flattens as it did.

	// PasswordPolicy is Policies.PasswordPolicy (nil: not recorded).
	PasswordPolicy *PasswordPolicy `json:"password_policy,omitempty"`
	// AutoVerified is AutoVerifiedAttributes (email, phone_number).
	AutoVerified []string `json:"auto_verified,omitempty"`
	// SMSRoleArn and SMSExternalID are SmsConfiguration's SnsCallerArn and
	// ExternalId (SMS MFA and SMS messages need them); SMSRegion its SnsRegion.
	SMSRoleArn    string `json:"sms_role_arn,omitempty"`
	SMSExternalID string `json:"sms_external_id,omitempty"`
	SMSRegion     string `json:"sms_region,omitempty"`
	// DeletionProtection is ACTIVE or INACTIVE ("" unrecorded).
	DeletionProtection string `json:"deletion_protection,omitempty"`
	// Tier is the feature plan (LITE, ESSENTIALS, PLUS; "" unrecorded).
	Tier string `json:"tier,omitempty"`
}

// PasswordPolicy is a pool's password policy.
type PasswordPolicy struct {
	MinLength                     int32 `json:"min_length,omitempty"`
	RequireUppercase              bool  `json:"require_uppercase,omitempty"`
	RequireLowercase              bool  `json:"require_lowercase,omitempty"`
	RequireNumbers                bool  `json:"require_numbers,omitempty"`
	RequireSymbols                bool  `json:"require_symbols,omitempty"`
	TemporaryPasswordValidityDays int32 `json:"temporary_password_validity_days,omitempty"`
	PasswordHistorySize           int32 `json:"password_history_size,omitempty"`
}

// String is the policy's canonical flattening ("" for nil).
func (p *PasswordPolicy) String() string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("min=%d,upper=%t,lower=%t,numbers=%t,symbols=%t,temp_days=%d,history=%d", p.MinLength,
		p.RequireUppercase, p.RequireLowercase, p.RequireNumbers, p.RequireSymbols, p.TemporaryPasswordValidityDays, p.PasswordHistorySize)
}

// UsernamesCaseSensitive reports whether the pool tells "Alice" from "alice".
func (c PoolConfig) UsernamesCaseSensitive() bool { return c.CaseSensitive == nil || *c.CaseSensitive }

// Fields flattens the configuration for diffing.
func (c PoolConfig) Fields() map[string]string {
	schema := make([]string, 0, len(c.Schema))
	for _, a := range c.Schema {
		schema = append(schema, a.Name+":"+a.DataType+":"+strconv.FormatBool(a.Mutable)+":"+strconv.FormatBool(a.Required))
	}
	sort.Strings(schema)
	return dropEmpty(map[string]string{
		"name":                c.Name,
		"schema":              strings.Join(schema, ","),
		"username_attributes": strings.Join(SortedUnique(c.UsernameAttributes), ","),
		"alias_attributes":    strings.Join(SortedUnique(c.AliasAttributes), ","),
		"mfa":                 c.MFA,
		"admin_create_only":   map[bool]string{true: "true"}[c.AdminCreateOnly],
		"case_sensitive":      map[bool]string{true: strconv.FormatBool(c.UsernamesCaseSensitive())}[c.CaseSensitive != nil],
		"account_recovery":    strings.Join(c.AccountRecovery, ","),
		"password_policy":     c.PasswordPolicy.String(),
		"auto_verified":       strings.Join(SortedUnique(c.AutoVerified), ","),
		"sms_role_arn":        c.SMSRoleArn,
		"sms_external_id":     c.SMSExternalID,
		"sms_region":          c.SMSRegion,
		"deletion_protection": c.DeletionProtection,
		"tier":                c.Tier,
	})
}

// SortedUnique returns a sorted copy of s without duplicates (nil for empty).
func SortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	w := 1
	for i := 1; i < len(out); i++ {
		if out[i] != out[w-1] {
			out[w] = out[i]
			w++
		}
	}
	return out[:w]
}

func dropEmpty(f map[string]string) map[string]string {
	for k, v := range f {
		if v == "" {
			delete(f, k)
		}
	}
	return f
}
