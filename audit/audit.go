// Package audit answers auditors' questions from the mirror, read-only:
// who holds a role or is in a group (now or at a past instant), a user's
// state and history, every change in a window, and the whole pool as of an
// instant. Each answer is a Query or GetItem on the mirror's keys and
// indexes; the export reads the pool's users shard by shard, streaming.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/idmirror/idmirror"
)

// Auditor reads one mirror table.
type Auditor struct {
	store Mirror
}

// Mirror is the part of the mirror auditors read (read-only).
type Mirror interface {
	GetUser(ctx context.Context, pool, sub string) (idmirror.UserRecord, error)
	FindByUsername(ctx context.Context, pool, username string) ([]idmirror.UserRecord, error)
	FindByEmail(ctx context.Context, pool, email string) ([]idmirror.UserRecord, error)
	UserAsOf(ctx context.Context, pool, sub string, t time.Time) (idmirror.User, error)
	UserHistory(ctx context.Context, pool, sub string) ([]idmirror.Entry[idmirror.User], error)
	Members(ctx context.Context, pool, group string, at time.Time) ([]idmirror.Membership, error)
	RoleMapAsOf(ctx context.Context, pool string, t time.Time) (idmirror.RoleMap, error)
	Changes(ctx context.Context, q idmirror.ChangeQuery, fn func(idmirror.Change) error) error
	ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error
}

// New returns an auditor.
func New(store Mirror) *Auditor { return &Auditor{store: store} }

// Row is one line of an answer: the same columns for text, CSV and JSON.
type Row interface {
	Columns() []string
	Values() []string
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Member is one holder of a role or member of a group.
type Member struct {
	Username  string `json:"username"`
	Sub       string `json:"sub"`
	Email     string `json:"email"`
	Group     string `json:"group"`
	Role      string `json:"role,omitempty"`
	Since     string `json:"since"`
	GrantedBy string `json:"granted_by"`
	Until     string `json:"until,omitempty"` // set when the membership ended later than the instant asked about
}

// Columns implements Row.
func (Member) Columns() []string {
	return []string{"username", "sub", "email", "group", "role", "since", "granted_by", "until"}
}

// Values implements Row.
func (m Member) Values() []string {
	return []string{m.Username, m.Sub, m.Email, m.Group, m.Role, m.Since, m.GrantedBy, m.Until}
}

// MembersQuery selects by role (through the role map in force at the
// instant) or by group.
type MembersQuery struct {
	PoolID string
	Role   string
	Group  string
	AsOf   time.Time // zero: now
}

// Members returns who holds the role or is in the group, with since-when,
// ordered by username then group. warning is set when the mirror has no
// role map recorded for that instant and the default map was used.
func (a *Auditor) Members(ctx context.Context, q MembersQuery) (rows []Member, warning string, err error) {
	if (q.Role == "") == (q.Group == "") {
		return nil, "", fmt.Errorf("%w: give a role or a group", idmirror.ErrInvalid)
	}
	groups := []string{q.Group}
	if q.Role != "" {
		rm, err := a.store.RoleMapAsOf(ctx, q.PoolID, q.AsOf)
		if errors.Is(err, idmirror.ErrNotFound) {
			rm = idmirror.DefaultRoleMap()
			warning = "no role map recorded in the mirror for that instant (sync records it): the default map was used"
		} else if err != nil {
			return nil, "", err
		}
		if groups = rm.GroupsFor(q.Role); groups == nil {
			return nil, warning, fmt.Errorf("%w: no role %q in the role map in force then", idmirror.ErrInvalid, q.Role)
		}
	}
	for _, g := range groups {
		ms, err := a.store.Members(ctx, q.PoolID, g, q.AsOf)
		if err != nil {
			return nil, warning, err
		}
		for _, m := range ms {
			row := Member{Username: m.Username, Sub: m.Sub, Group: g, Role: q.Role, Since: ts(m.GrantedAt), GrantedBy: string(m.GrantedBy)}
			if !m.RevokedAt.IsZero() {
				row.Until = ts(m.RevokedAt)
			}
			u, err := a.userAt(ctx, q.PoolID, m.Sub, q.AsOf)
			if err != nil {
				return nil, warning, err
			}
			row.Email = u.Email()
			if u.Username != "" {
				row.Username = u.Username
			}
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Username != rows[j].Username {
			return rows[i].Username < rows[j].Username
		}
		return rows[i].Group < rows[j].Group
	})
	return rows, warning, nil
}

func (a *Auditor) userAt(ctx context.Context, pool, sub string, at time.Time) (idmirror.User, error) {
	if at.IsZero() {
		r, err := a.store.GetUser(ctx, pool, sub)
		if errors.Is(err, idmirror.ErrNotFound) {
			return idmirror.User{}, nil
		}
		return r.User, err
	}
	u, err := a.store.UserAsOf(ctx, pool, sub, at)
	if errors.Is(err, idmirror.ErrNotFound) {
		return idmirror.User{}, nil
	}
	return u, err
}

// UserView is a user's current state (or tombstone), who granted each
// current membership, and the history.
type UserView struct {
	Record  idmirror.UserRecord
	Grants  []Grant
	History []idmirror.Entry[idmirror.User]
}

// Grant is one current membership and who granted it: the actor of the
// history item that opened it (attached later if a late CloudTrail event
// explained a change the reconcile found first).
type Grant struct {
	Group     string          `json:"group"`
	GrantedAt time.Time       `json:"granted_at"`
	Source    idmirror.Source `json:"source"`
	Actor     idmirror.Actor  `json:"actor"`
}

// FindUser resolves a username, sub or email to one user of the pool: the
// live holder first, then the most recent tombstone.
func (a *Auditor) FindUser(ctx context.Context, pool, who string, withHistory bool) (UserView, error) {
	var recs []idmirror.UserRecord
	if r, err := a.store.GetUser(ctx, pool, who); err == nil {
		recs = append(recs, r)
	} else if !errors.Is(err, idmirror.ErrNotFound) {
		return UserView{}, err
	}
	for _, find := range []func(context.Context, string, string) ([]idmirror.UserRecord, error){a.store.FindByUsername, a.store.FindByEmail} {
		if len(recs) > 0 {
			break
		}
		found, err := find(ctx, pool, who)
		if err != nil {
			return UserView{}, err
		}
		recs = found
	}
	if len(recs) == 0 {
		return UserView{}, fmt.Errorf("no user %q in pool %s (tried sub, username and email): %w", who, pool, idmirror.ErrNotFound)
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Deleted != recs[j].Deleted {
			return !recs[i].Deleted
		}
		return recs[i].ObservedAt.After(recs[j].ObservedAt)
	})
	v := UserView{Record: recs[0]}
	h, err := a.store.UserHistory(ctx, pool, v.Record.Sub)
	if err != nil {
		return v, err
	}
	byTime := map[time.Time]idmirror.Change{}
	for _, e := range h {
		byTime[e.At] = e.Change
	}
	for _, g := range idmirror.SortedUnique(v.Record.Groups) {
		at, ok := v.Record.Memberships[g]
		if !ok {
			continue
		}
		grant := Grant{Group: g, GrantedAt: at}
		if c, ok := byTime[at]; ok {
			grant.Source, grant.Actor = c.Source, c.Actor
		} else {
			// No history item has the grant's instant (a late first
			// observation only patched the first one): the interval itself
			// records who granted it.
			ms, err := a.store.Members(ctx, pool, g, time.Time{})
			if err != nil {
				return v, err
			}
			for _, m := range ms {
				if m.Sub == v.Record.Sub && m.GrantedAt.Equal(at) {
					grant.Source, grant.Actor = m.GrantedBy, m.GrantedActor
				}
			}
		}
		v.Grants = append(v.Grants, grant)
	}
	if withHistory {
		v.History = h
	}
	return v, nil
}

// ChangeRow is one field changed by one history item.
type ChangeRow struct {
	Time       string `json:"time"`
	Kind       string `json:"kind"`
	Key        string `json:"key"`
	Name       string `json:"name"`
	Source     string `json:"source"`
	Field      string `json:"field"`
	Before     string `json:"before"`
	After      string `json:"after"`
	SourceTime string `json:"source_time,omitempty"`
	// Actor is who made the change (an ARN, the restore's operator and run,
	// the trigger source, or "sync (observed, actor unknown)"); SourceIP where
	// CloudTrail gave one. ActorDetail is the whole record (JSON only).
	Actor       string          `json:"actor"`
	SourceIP    string          `json:"source_ip,omitempty"`
	ActorDetail *idmirror.Actor `json:"actor_detail,omitempty"`
}

// Columns implements Row.
func (ChangeRow) Columns() []string {
	return []string{"time", "kind", "key", "name", "source", "field", "before", "after", "source_time", "actor", "source_ip"}
}

// Values implements Row.
func (c ChangeRow) Values() []string {
	return []string{c.Time, c.Kind, c.Key, c.Name, c.Source, c.Field, c.Before, c.After, c.SourceTime, c.Actor, c.SourceIP}
}

// ChangeRows converts a history entry into rows, one per changed field,
// ordered by field; field, if set, keeps only that field.
func ChangeRows(c idmirror.Change, field string) []ChangeRow {
	names := make([]string, 0, len(c.Fields))
	for f := range c.Fields {
		if field == "" || f == field {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	out := make([]ChangeRow, 0, len(names))
	var detail *idmirror.Actor
	if !c.Actor.IsZero() {
		a := c.Actor
		detail = &a
	}
	for _, f := range names {
		fc := c.Fields[f]
		out = append(out, ChangeRow{Time: ts(c.At), Kind: c.Kind, Key: c.Key, Name: c.Name, Source: string(c.Source),
			Field: f, Before: fc.Before, After: fc.After, SourceTime: ts(c.SourceTime),
			Actor: c.Actor.Who(), SourceIP: c.Actor.SourceIP, ActorDetail: detail})
	}
	return out
}

// Changes streams every change of the pool in the window, in time order,
// one row per field (only field, if set; only changes whose actor matches
// actor, if set: an ARN or a substring of it, a principal, an access key,
// a restore run id — see idmirror.Actor.Matches).
func (a *Auditor) Changes(ctx context.Context, q idmirror.ChangeQuery, field, actor string, fn func(ChangeRow) error) error {
	return a.store.Changes(ctx, q, func(c idmirror.Change) error {
		if actor != "" && !c.Actor.Matches(actor) {
			return nil
		}
		for _, r := range ChangeRows(c, field) {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExportRow is one user of the pool as of an instant.
type ExportRow struct {
	Username   string            `json:"username"`
	Sub        string            `json:"sub"`
	Email      string            `json:"email"`
	Phone      string            `json:"phone_number"`
	Status     string            `json:"status"`
	Enabled    bool              `json:"enabled"`
	Deleted    bool              `json:"deleted"`
	Groups     []string          `json:"groups"`
	Roles      []string          `json:"roles"`
	MFA        string            `json:"mfa"`
	Attributes map[string]string `json:"attributes"`
}

// Columns implements Row.
func (ExportRow) Columns() []string {
	return []string{"username", "sub", "email", "phone_number", "status", "enabled", "deleted", "groups", "roles", "mfa", "attributes"}
}

// Values implements Row.
func (e ExportRow) Values() []string {
	attrs, _ := json.Marshal(e.Attributes) // map keys sorted: stable
	return []string{e.Username, e.Sub, e.Email, e.Phone, e.Status, strconv.FormatBool(e.Enabled), strconv.FormatBool(e.Deleted),
		strings.Join(e.Groups, " "), strings.Join(e.Roles, " "), e.MFA, string(attrs)}
}

// Export streams every user of the pool as of asOf (zero: now), tombstones
// included (Deleted), in a stable order (shard by shard, by sub), with the
// roles of the role map in force then.
func (a *Auditor) Export(ctx context.Context, pool string, asOf time.Time, fn func(ExportRow) error) error {
	rm, err := a.store.RoleMapAsOf(ctx, pool, asOf)
	if errors.Is(err, idmirror.ErrNotFound) {
		rm = idmirror.DefaultRoleMap()
	} else if err != nil {
		return err
	}
	return a.store.ExportUsers(ctx, pool, idmirror.ExportOptions{Segments: 1, AsOf: asOf}, func(r idmirror.UserRecord) error {
		u := r.User
		row := ExportRow{Username: u.Username, Sub: u.Sub, Email: u.Email(), Phone: u.Attributes["phone_number"], Status: u.Status,
			Enabled: u.Enabled, Deleted: u.Deleted, Groups: append([]string{}, u.Groups...), Roles: []string{}, MFA: u.MFA.String(),
			Attributes: u.Attributes}
		if row.Attributes == nil {
			row.Attributes = map[string]string{}
		}
		if !u.Deleted {
			for _, role := range rm.RolesFor(u.Groups) {
				row.Roles = append(row.Roles, role.Name)
			}
		}
		return fn(row)
	})
}
