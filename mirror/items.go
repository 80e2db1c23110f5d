package mirror

import (
	"time"

	"github.com/idmirror/idmirror"
)

// The item shapes of the table: the domain types of package idmirror carry
// no storage tags; these private structs say how each is stored, and
// docs/mirror-table.md is their contract (TestGoldenItems pins it).

type mfaDoc struct {
	SMSEnabled  bool   `dynamodbav:"sms,omitempty"`
	TOTPEnabled bool   `dynamodbav:"totp,omitempty"`
	Preferred   string `dynamodbav:"preferred,omitempty"`
}

type userDoc struct {
	PoolID     string            `dynamodbav:"pool"`
	Sub        string            `dynamodbav:"sub"`
	Username   string            `dynamodbav:"username"`
	Attributes map[string]string `dynamodbav:"attributes,omitempty"`
	Status     string            `dynamodbav:"status,omitempty"`
	Enabled    bool              `dynamodbav:"enabled"`
	Groups     []string          `dynamodbav:"groups,omitempty"`
	MFA        mfaDoc            `dynamodbav:"mfa"`
	Created    time.Time         `dynamodbav:"created,omitempty"`
	Modified   time.Time         `dynamodbav:"modified,omitempty"`
	Deleted    bool              `dynamodbav:"deleted,omitempty"`
	Origin     string            `dynamodbav:"origin,omitempty"`
}

func userDocOf(u idmirror.User) userDoc {
	return userDoc{PoolID: u.PoolID, Sub: u.Sub, Username: u.Username, Attributes: u.Attributes, Status: u.Status,
		Enabled: u.Enabled, Groups: u.Groups, MFA: mfaDoc(u.MFA), Created: u.Created, Modified: u.Modified,
		Deleted: u.Deleted, Origin: u.Origin}
}

func (d userDoc) user() idmirror.User {
	return idmirror.User{PoolID: d.PoolID, Sub: d.Sub, Username: d.Username, Attributes: d.Attributes, Status: d.Status,
		Enabled: d.Enabled, Groups: d.Groups, MFA: idmirror.MFA(d.MFA), Created: d.Created, Modified: d.Modified,
		Deleted: d.Deleted, Origin: d.Origin}
}

// userStateFields names the members of a stored user state each field group
// holds (the late-observation patch sets them in later history items).
var userStateFields = map[idmirror.Fields][]string{
	idmirror.FieldAttributes: {"attributes"}, idmirror.FieldStatus: {"status"}, idmirror.FieldEnabled: {"enabled"},
	idmirror.FieldGroups: {"groups"}, idmirror.FieldMFA: {"mfa"}, idmirror.FieldTimes: {"created", "modified"},
	idmirror.FieldExists: {"deleted"}, idmirror.FieldOrigin: {"origin"},
}

type groupDoc struct {
	PoolID      string `dynamodbav:"pool"`
	Name        string `dynamodbav:"name"`
	Description string `dynamodbav:"description,omitempty"`
	Precedence  *int32 `dynamodbav:"precedence,omitempty"`
	RoleArn     string `dynamodbav:"roleArn,omitempty"`
	Deleted     bool   `dynamodbav:"deleted,omitempty"`
}

// codec converts a domain type to its stored shape and back.
type codec[T, D any] struct {
	enc func(T) D
	dec func(D) T
}

func (d groupDoc) group() idmirror.Group { return idmirror.Group(d) }

var (
	userCodec    = codec[idmirror.User, userDoc]{userDocOf, userDoc.user}
	groupCodec   = codec[idmirror.Group, groupDoc]{func(g idmirror.Group) groupDoc { return groupDoc(g) }, groupDoc.group}
	configCodec  = codec[idmirror.PoolConfig, configDoc]{configDocOf, configDoc.config}
	roleMapCodec = codec[idmirror.RoleMap, roleMapDoc]{roleMapDocOf, roleMapDoc.roleMap}
)

type schemaDoc struct {
	Name     string `dynamodbav:"name"`
	DataType string `dynamodbav:"type,omitempty"`
	Mutable  bool   `dynamodbav:"mutable"`
	Required bool   `dynamodbav:"required,omitempty"`
}

type configDoc struct {
	PoolID             string      `dynamodbav:"pool"`
	Name               string      `dynamodbav:"name,omitempty"`
	Schema             []schemaDoc `dynamodbav:"schema,omitempty"`
	UsernameAttributes []string    `dynamodbav:"usernameAttributes,omitempty"`
	AliasAttributes    []string    `dynamodbav:"aliasAttributes,omitempty"`
	MFA                string      `dynamodbav:"mfa,omitempty"`
	AdminCreateOnly    bool        `dynamodbav:"adminCreateOnly,omitempty"`
	CaseSensitive      *bool       `dynamodbav:"caseSensitive,omitempty"`
	AccountRecovery    []string    `dynamodbav:"accountRecovery,omitempty"`
	// Since issue 16 (pool create): absent from items recorded before.
	PasswordPolicy     *passwordPolicyDoc `dynamodbav:"passwordPolicy,omitempty"`
	AutoVerified       []string           `dynamodbav:"autoVerified,omitempty"`
	SMSRoleArn         string             `dynamodbav:"smsRoleArn,omitempty"`
	SMSExternalID      string             `dynamodbav:"smsExternalId,omitempty"`
	SMSRegion          string             `dynamodbav:"smsRegion,omitempty"`
	DeletionProtection string             `dynamodbav:"deletionProtection,omitempty"`
	Tier               string             `dynamodbav:"tier,omitempty"`
}

type passwordPolicyDoc struct {
	MinLength                     int32 `dynamodbav:"minLength,omitempty"`
	RequireUppercase              bool  `dynamodbav:"requireUppercase,omitempty"`
	RequireLowercase              bool  `dynamodbav:"requireLowercase,omitempty"`
	RequireNumbers                bool  `dynamodbav:"requireNumbers,omitempty"`
	RequireSymbols                bool  `dynamodbav:"requireSymbols,omitempty"`
	TemporaryPasswordValidityDays int32 `dynamodbav:"temporaryPasswordValidityDays,omitempty"`
	PasswordHistorySize           int32 `dynamodbav:"passwordHistorySize,omitempty"`
}

func configDocOf(c idmirror.PoolConfig) configDoc {
	d := configDoc{PoolID: c.PoolID, Name: c.Name, UsernameAttributes: c.UsernameAttributes, AliasAttributes: c.AliasAttributes, MFA: c.MFA,
		AdminCreateOnly: c.AdminCreateOnly, CaseSensitive: c.CaseSensitive, AccountRecovery: c.AccountRecovery,
		AutoVerified: c.AutoVerified, SMSRoleArn: c.SMSRoleArn, SMSExternalID: c.SMSExternalID, SMSRegion: c.SMSRegion,
		DeletionProtection: c.DeletionProtection, Tier: c.Tier}
	if p := c.PasswordPolicy; p != nil {
		pd := passwordPolicyDoc(*p)
		d.PasswordPolicy = &pd
	}
	for _, a := range c.Schema {
		d.Schema = append(d.Schema, schemaDoc(a))
	}
	return d
}

func (d configDoc) config() idmirror.PoolConfig {
	c := idmirror.PoolConfig{PoolID: d.PoolID, Name: d.Name, UsernameAttributes: d.UsernameAttributes, AliasAttributes: d.AliasAttributes, MFA: d.MFA,
		AdminCreateOnly: d.AdminCreateOnly, CaseSensitive: d.CaseSensitive, AccountRecovery: d.AccountRecovery,
		AutoVerified: d.AutoVerified, SMSRoleArn: d.SMSRoleArn, SMSExternalID: d.SMSExternalID, SMSRegion: d.SMSRegion,
		DeletionProtection: d.DeletionProtection, Tier: d.Tier}
	if p := d.PasswordPolicy; p != nil {
		pp := idmirror.PasswordPolicy(*p)
		c.PasswordPolicy = &pp
	}
	for _, a := range d.Schema {
		c.Schema = append(c.Schema, idmirror.SchemaAttribute(a))
	}
	return c
}

type roleDoc struct {
	Name   string   `dynamodbav:"name"`
	Groups []string `dynamodbav:"groups"`
	Scopes []string `dynamodbav:"scopes,omitempty"`
}

type roleMapDoc struct {
	Roles []roleDoc `dynamodbav:"roles"`
}

func roleMapDocOf(m idmirror.RoleMap) roleMapDoc {
	var d roleMapDoc
	for _, r := range m.Roles {
		d.Roles = append(d.Roles, roleDoc(r))
	}
	return d
}

func (d roleMapDoc) roleMap() idmirror.RoleMap {
	var m idmirror.RoleMap
	for _, r := range d.Roles {
		m.Roles = append(m.Roles, idmirror.Role(r))
	}
	return m
}

// actorDoc is who made a change (the history item's and membership's
// "actor" map; omitted when unknown).
type actorDoc struct {
	Type          string `dynamodbav:"type,omitempty"`
	ARN           string `dynamodbav:"arn,omitempty"`
	PrincipalID   string `dynamodbav:"principalId,omitempty"`
	SessionIssuer string `dynamodbav:"sessionIssuer,omitempty"`
	AccessKeyID   string `dynamodbav:"accessKeyId,omitempty"`
	SourceIP      string `dynamodbav:"sourceIp,omitempty"`
	UserAgent     string `dynamodbav:"userAgent,omitempty"`
	EventID       string `dynamodbav:"eventId,omitempty"`
	RunID         string `dynamodbav:"runId,omitempty"`
	ClientID      string `dynamodbav:"clientId,omitempty"`
	Detail        string `dynamodbav:"detail,omitempty"`
	Inferred      bool   `dynamodbav:"inferred,omitempty"`
}

func actorDocOf(a idmirror.Actor) *actorDoc {
	if a.IsZero() {
		return nil
	}
	d := actorDoc(a)
	return &d
}

func (d *actorDoc) actor() idmirror.Actor {
	if d == nil {
		return idmirror.Actor{}
	}
	return idmirror.Actor(*d)
}

type fieldChangeDoc struct {
	Before string `dynamodbav:"b"`
	After  string `dynamodbav:"a"`
}

func changesDoc(c map[string]idmirror.FieldChange) map[string]fieldChangeDoc {
	out := make(map[string]fieldChangeDoc, len(c))
	for k, v := range c {
		out[k] = fieldChangeDoc(v)
	}
	return out
}

func changesOf(d map[string]fieldChangeDoc) map[string]idmirror.FieldChange {
	if d == nil {
		return nil
	}
	out := make(map[string]idmirror.FieldChange, len(d))
	for k, v := range d {
		out[k] = idmirror.FieldChange(v)
	}
	return out
}
