package mirror

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

// Fields says which parts of a user an observation saw. A trigger sees the
// attributes and status but not groups; sync and the event handler see all.
type Fields uint16

// The field groups of a user, each with its own observation clock.
const (
	FieldAttributes Fields = 1 << iota // Attributes
	FieldStatus                        // Status
	FieldEnabled                       // Enabled
	FieldGroups                        // Groups
	FieldMFA                           // MFA
	FieldTimes                         // Created, Modified
	FieldExists                        // Deleted (a tombstone or its absence)
	FieldOrigin                        // Origin (set by restore)

	// AllFields is everything Cognito shows of a user.
	AllFields = FieldAttributes | FieldStatus | FieldEnabled | FieldGroups | FieldMFA | FieldTimes | FieldExists
)

var fieldClockNames = []struct {
	f    Fields
	name string
}{
	{FieldAttributes, "attributes"}, {FieldStatus, "status"}, {FieldEnabled, "enabled"},
	{FieldGroups, "groups"}, {FieldMFA, "mfa"}, {FieldTimes, "times"}, {FieldExists, "exists"}, {FieldOrigin, "origin"},
}

// UserWrite is one observation of a user.
type UserWrite struct {
	User   idmirror.User // PoolID and Sub are required
	Fields Fields        // the parts of User that were observed
	// Delete records that the user is gone: a tombstone keeping the last
	// known state. It implies FieldExists.
	Delete     bool
	At         time.Time // when the source observed this state (the ordering clock)
	Source     idmirror.Source
	SourceTime time.Time // Cognito's own time, if it gave one (UserLastModifiedDate, CloudTrail eventTime)
	Note       string    // free text for the history item (for example the restore's origin)
}

func (w UserWrite) validate() error {
	switch {
	case w.User.PoolID == "":
		return fmt.Errorf("%w: user write: missing pool id", idmirror.ErrInvalid)
	case w.User.Sub == "":
		return fmt.Errorf("%w: user write: missing sub", idmirror.ErrInvalid)
	case !w.Source.Valid():
		return fmt.Errorf("%w: user write: unknown source %q", idmirror.ErrInvalid, w.Source)
	case w.At.IsZero():
		return fmt.Errorf("%w: user write: missing observation time", idmirror.ErrInvalid)
	case w.Fields == 0 && !w.Delete:
		return fmt.Errorf("%w: user write: no observed fields", idmirror.ErrInvalid)
	}
	return nil
}

// UserRecord is a user's current state in the mirror, with its bookkeeping.
type UserRecord struct {
	idmirror.User
	Meta
	// Memberships maps each group the user is in now to the time it was granted.
	Memberships map[string]time.Time
}

type userState = stateItem[idmirror.User]

func userRecord(it *userState) UserRecord {
	r := UserRecord{User: it.State, Meta: it.meta()}
	if len(it.Memberships) > 0 {
		r.Memberships = make(map[string]time.Time, len(it.Memberships))
		for g, at := range it.Memberships {
			r.Memberships[g] = parseTime(at)
		}
	}
	return r
}

// PutUser applies one observation of a user: each observed field group is
// taken if it is newer than what the mirror holds for that group; a change
// writes the state and a history item in one transaction (and opens or
// closes group membership intervals); an observation that changes nothing
// only moves the clocks. Concurrent writers are serialised by the item's
// version. Deleting a user the mirror never saw returns ErrNotFound.
func (s *Store) PutUser(ctx context.Context, w UserWrite) (Outcome, error) {
	if err := w.validate(); err != nil {
		return 0, err
	}
	if w.Delete {
		w.Fields |= FieldExists
	}
	pk := userPK(w.User.PoolID, w.User.Sub)
	return s.retry(ctx, "put user "+w.User.Sub, func() (Outcome, error) {
		cur, err := getState[idmirror.User](ctx, s, pk)
		if err != nil {
			return 0, err
		}
		if cur == nil && w.Delete {
			return 0, fmt.Errorf("tombstone user %s: %w", w.User.Sub, idmirror.ErrNotFound)
		}
		return s.applyUser(ctx, pk, cur, w)
	})
}

func (s *Store) applyUser(ctx context.Context, pk string, cur *userState, w UserWrite) (Outcome, error) {
	now := time.Now()
	at := fmtTime(w.At)
	next := userState{PK: pk, SK: skState, Kind: "user", Pool: w.User.PoolID, Key: w.User.Sub,
		State: idmirror.User{PoolID: w.User.PoolID, Sub: w.User.Sub}, Clocks: map[string]string{}}
	var before map[string]string
	openBefore := map[string]string{}
	if cur != nil {
		next = *cur
		next.Clocks = copyMap(cur.Clocks)
		next.State.Attributes = copyMap(cur.State.Attributes)
		before = cur.State.Fields()
		openBefore = copyMap(cur.Memberships)
	}
	var applied Fields
	for _, fc := range fieldClockNames {
		if w.Fields&fc.f == 0 || next.Clocks[fc.name] >= at {
			continue
		}
		applied |= fc.f
		next.Clocks[fc.name] = at
		take(&next.State, w, fc.f)
	}
	if applied == 0 {
		return Stale, nil
	}
	if w.User.Username != "" {
		next.State.Username = w.User.Username
	}
	if at > next.ObservedAt {
		next.ObservedAt = at
	}
	next.Deleted = next.State.Deleted
	next.Source = string(w.Source)
	next.Version = 0
	if cur != nil {
		next.Version = cur.Version
	}
	prev := next.Version
	next.Version++
	next.WrittenAt = fmtTime(now)
	next.UnamePK = unameKey(next.Pool, next.State.Username)
	next.EmailPK = ""
	if e := next.State.Email(); e != "" {
		next.EmailPK = emailKey(next.Pool, e)
	}
	next.PoolPK, next.PoolSK = poolUserKey(next.Pool, shardOf(next.Key, userShards)), next.Key

	changes := diffFields(before, next.State.Fields())
	c := commit{pk: pk, prevVersion: prev, state: &next}
	late := cur != nil && at < cur.ObservedAt
	if len(changes) > 0 {
		next.ChangedAt = max(at, next.ChangedAt)
		histState, histChanges := next.State, changes
		if late {
			// The history item holds the state as of its own observation:
			// the state then, plus what this observation saw.
			prevState := idmirror.User{PoolID: next.Pool, Sub: next.Key, Username: next.State.Username}
			var prevFields map[string]string
			if e, ok, err := asOf[idmirror.User](ctx, s, pk, w.At); err != nil {
				return 0, err
			} else if ok {
				prevState, prevFields = e.State, e.State.Fields()
			}
			histState = prevState
			histState.Attributes = copyMap(prevState.Attributes)
			for _, fc := range fieldClockNames {
				if applied&fc.f != 0 {
					take(&histState, w, fc.f)
				}
			}
			histChanges = diffFields(prevFields, histState.Fields())
		}
		h := newHistory("user-history", next.Pool, next.Key, pk, next.State.Username, w.Source, w.At, w.SourceTime, next.Version, histChanges, histState, now)
		h.Note = w.Note
		c.history = &h
		// Membership intervals: a tombstone is in no group.
		want := map[string]bool{}
		if !next.State.Deleted {
			for _, g := range next.State.Groups {
				want[g] = true
			}
		}
		next.Memberships = map[string]string{}
		for g, grantedAt := range openBefore {
			if want[g] {
				next.Memberships[g] = grantedAt
				continue
			}
			c.extra = append(c.extra, s.revokeItem(next.Pool, g, grantedAt, next.Key, at, w.Source))
		}
		for g := range want {
			if _, ok := openBefore[g]; ok {
				continue
			}
			next.Memberships[g] = at
			it, err := s.grantItem(next.Pool, g, next.Key, next.State.Username, at, w.Source)
			if err != nil {
				return 0, err
			}
			c.extra = append(c.extra, it)
		}
	}
	if len(changes) > 0 && late {
		// A late observation: history items observed after it carry full
		// states that miss what it saw. Its field groups were older in each
		// of them, so its values are the right ones there too.
		fix, err := s.patchLaterHistory(ctx, pk, at, next.State, applied)
		if err != nil {
			return 0, err
		}
		c.extra = append(c.extra, fix...)
	}
	if err := s.write(ctx, c); err != nil {
		return 0, err
	}
	if len(changes) == 0 {
		return Unchanged, nil
	}
	return Changed, nil
}

// stateFields names the members of a user's state each field group holds.
var stateFields = map[Fields][]string{
	FieldAttributes: {"attributes"}, FieldStatus: {"status"}, FieldEnabled: {"enabled"}, FieldGroups: {"groups"},
	FieldMFA: {"mfa"}, FieldTimes: {"created", "modified"}, FieldExists: {"deleted"}, FieldOrigin: {"origin"},
}

// patchLaterHistory returns updates that set the applied field groups, as in
// state, in every history item of pk observed after at.
func (s *Store) patchLaterHistory(ctx context.Context, pk, at string, state idmirror.User, applied Fields) ([]types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(state)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	var sets, removes []string
	names := map[string]string{"#s": "state"}
	vals := map[string]types.AttributeValue{}
	for _, fc := range fieldClockNames {
		if applied&fc.f == 0 {
			continue
		}
		for _, name := range stateFields[fc.f] {
			ph := fmt.Sprintf("#f%d", len(names))
			names[ph] = name
			if v, ok := av[name]; ok {
				vp := fmt.Sprintf(":v%d", len(vals))
				vals[vp] = v
				sets = append(sets, "#s."+ph+" = "+vp)
			} else {
				removes = append(removes, "#s."+ph)
			}
		}
	}
	expr := ""
	if len(sets) > 0 {
		expr = "SET " + strings.Join(sets, ", ")
	}
	if len(removes) > 0 {
		expr += " REMOVE " + strings.Join(removes, ", ")
	}
	var out []types.TransactWriteItem
	err = s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :after AND :last"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":    &types.AttributeValueMemberS{Value: pk},
			":after": &types.AttributeValueMemberS{Value: skHistory + at + skHighest},
			":last":  &types.AttributeValueMemberS{Value: skHistory + "~"},
		},
		ProjectionExpression: aws.String("pk, sk"),
		ConsistentRead:       aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error {
		u := &types.Update{TableName: aws.String(s.table), Key: map[string]types.AttributeValue{attrPK: item[attrPK], attrSK: item[attrSK]},
			UpdateExpression: aws.String(strings.TrimSpace(expr)), ExpressionAttributeNames: names}
		if len(vals) > 0 {
			u.ExpressionAttributeValues = vals
		}
		out = append(out, types.TransactWriteItem{Update: u})
		return nil
	})
	return out, err
}

// take copies one observed field group of w into u.
func take(u *idmirror.User, w UserWrite, f Fields) {
	in := w.User
	switch f {
	case FieldAttributes:
		u.Attributes = copyMap(in.Attributes)
		delete(u.Attributes, "sub")
	case FieldStatus:
		u.Status = in.Status
	case FieldEnabled:
		u.Enabled = in.Enabled
	case FieldGroups:
		u.Groups = idmirror.SortedUnique(in.Groups)
	case FieldMFA:
		u.MFA = in.MFA
	case FieldTimes:
		u.Created, u.Modified = in.Created, in.Modified
	case FieldExists:
		u.Deleted = w.Delete
	case FieldOrigin:
		u.Origin = in.Origin
	}
}

// Diff returns what w would change in cur (nil: a user the mirror does
// not have), comparing only the field groups w observed and ignoring the
// observation clocks: the drift between a fresh read of Cognito and the mirror.
func Diff(cur *idmirror.User, w UserWrite) map[string]FieldChange {
	if w.Delete {
		w.Fields |= FieldExists
	}
	var before map[string]string
	next := idmirror.User{PoolID: w.User.PoolID, Sub: w.User.Sub}
	if cur != nil {
		before = cur.Fields()
		next = *cur
	}
	for _, fc := range fieldClockNames {
		if w.Fields&fc.f != 0 {
			take(&next, w, fc.f)
		}
	}
	if w.User.Username != "" {
		next.Username = w.User.Username
	}
	return diffFields(before, next.Fields())
}

// memberItem is an interval of a user's membership in a group, kept under the group.
type memberItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Kind      string `dynamodbav:"kind"`
	Pool      string `dynamodbav:"pool"`
	Group     string `dynamodbav:"group"`
	Sub       string `dynamodbav:"sub"`
	Username  string `dynamodbav:"username"`
	GrantedAt string `dynamodbav:"grantedAt"`
	GrantedBy string `dynamodbav:"grantedBy"`
	RevokedAt string `dynamodbav:"revokedAt,omitempty"`
	RevokedBy string `dynamodbav:"revokedBy,omitempty"`
}

func (s *Store) grantItem(pool, group, sub, username, at string, src idmirror.Source) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(memberItem{
		PK: groupPK(pool, group), SK: memberSK(at, sub), Kind: "member", Pool: pool, Group: group,
		Sub: sub, Username: username, GrantedAt: at, GrantedBy: string(src),
	})
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode membership: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: av}}, nil
}

func (s *Store) revokeItem(pool, group, grantedAt, sub, at string, src idmirror.Source) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:        aws.String(s.table),
		Key:              key(groupPK(pool, group), memberSK(grantedAt, sub)),
		UpdateExpression: aws.String("SET revokedAt = :t, revokedBy = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberS{Value: at},
			":s": &types.AttributeValueMemberS{Value: string(src)},
		},
	}}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// GetUser returns the current state of a user (a tombstone has Deleted set).
func (s *Store) GetUser(ctx context.Context, pool, sub string) (UserRecord, error) {
	it, err := getState[idmirror.User](ctx, s, userPK(pool, sub))
	if err != nil {
		return UserRecord{}, err
	}
	if it == nil {
		return UserRecord{}, fmt.Errorf("user %s in %s: %w", sub, pool, idmirror.ErrNotFound)
	}
	return userRecord(it), nil
}

// FindByUsername returns the users of pool with that username: at most one
// live user, and any tombstones of earlier users that had it.
func (s *Store) FindByUsername(ctx context.Context, pool, username string) ([]UserRecord, error) {
	return s.findUsers(ctx, IndexByUsername, attrUnamePK, unameKey(pool, username))
}

// FindByEmail returns the users of pool with that email (compared without case).
func (s *Store) FindByEmail(ctx context.Context, pool, email string) ([]UserRecord, error) {
	return s.findUsers(ctx, IndexByEmail, attrEmailPK, emailKey(pool, email))
}

func (s *Store) findUsers(ctx context.Context, index, attr, value string) ([]UserRecord, error) {
	var out []UserRecord
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :v"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}},
	}, func(item map[string]types.AttributeValue) error {
		var it userState
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return fmt.Errorf("decode user: %w", err)
		}
		out = append(out, userRecord(&it))
		return nil
	})
	return out, err
}

// query runs q page by page and calls fn for each item.
func (s *Store) query(ctx context.Context, q *dynamodb.QueryInput, fn func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(s.db, q)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", aws.ToString(q.IndexName), err)
		}
		for _, item := range page.Items {
			if err := fn(item); err != nil {
				return err
			}
		}
	}
	return nil
}
