package mirror

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

type userState = stateItem[userDoc]

func userRecord(it *userState) idmirror.UserRecord {
	r := idmirror.UserRecord{User: it.State.user(), Meta: it.meta(), Pending: len(it.Pending)}
	if len(it.Memberships) > 0 {
		r.Memberships = make(map[string]time.Time, len(it.Memberships))
		for g, at := range it.Memberships {
			r.Memberships[g] = parseTime(at)
		}
	}
	if len(it.Clocks) > 0 {
		r.Clocks = make(map[string]time.Time, len(it.Clocks))
		for f, at := range it.Clocks {
			r.Clocks[f] = parseTime(at)
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
func (s *Store) PutUser(ctx context.Context, w idmirror.UserWrite) (idmirror.Outcome, error) {
	if err := w.Validate(); err != nil {
		return 0, err
	}
	pk := userPK(w.User.PoolID, w.User.Sub)
	return s.retry(ctx, "put user "+w.User.Sub, func() (idmirror.Outcome, error) {
		it, err := getState[userDoc](ctx, s, pk)
		if err != nil {
			return 0, err
		}
		if it != nil && len(it.Pending) > 0 {
			// A previous write's membership intervals past one transaction
			// were not all written: finish them first, then read the state
			// they leave.
			if err := s.settle(ctx, pk, it); err != nil {
				return 0, err
			}
			if it, err = getState[userDoc](ctx, s, pk); err != nil {
				return 0, err
			}
		}
		var cur *idmirror.UserRecord
		if it != nil {
			r := userRecord(it)
			cur = &r
		}
		m, err := idmirror.MergeUser(cur, w, func(t time.Time) (idmirror.User, bool, error) {
			e, ok, err := asOf(ctx, s, userCodec, pk, t)
			return e.State, ok, err
		})
		if err != nil || m.Outcome == idmirror.Stale {
			return m.Outcome, err
		}
		return m.Outcome, s.commitUser(ctx, pk, it, m)
	})
}

// commitUser writes a merge: the state item guarded by its version, the
// history item, the membership intervals and the late-observation patch of
// later history items, in one transaction.
func (s *Store) commitUser(ctx context.Context, pk string, prev *userState, m idmirror.UserMerge) error {
	now := s.now()
	n := m.Next
	next := userState{PK: pk, SK: skState, Kind: "user", Pool: n.PoolID, Key: n.Sub, State: userDocOf(n.User),
		Deleted: n.Deleted, Version: n.Version, ObservedAt: fmtTime(n.ObservedAt), ChangedAt: fmtTime(n.ChangedAt),
		Source: string(n.Source), Clocks: map[string]string{}, WrittenAt: fmtTime(now)}
	if prev != nil {
		next.Memberships = prev.Memberships
	}
	for name, at := range n.Clocks {
		next.Clocks[name] = fmtTime(at)
	}
	next.UnamePK = unameKey(next.Pool, n.Username)
	if e := n.Email(); e != "" {
		next.EmailPK = emailKey(next.Pool, e)
	}
	next.PoolPK, next.PoolSK = poolUserKey(next.Pool, shardOf(next.Key, userShards)), next.Key
	c := commit{pk: pk, prevVersion: n.Version - 1, pool: n.PoolID, version: n.Version, state: &next}
	if prev != nil {
		c.prevHead = prev.JHead
	}
	if m.History != nil {
		h := newHistory(userCodec, "user", pk, m.History, now)
		c.history = &h
	}
	var ops []pendingOp
	if m.Outcome == idmirror.Changed {
		next.Memberships = map[string]string{}
		for g, at := range n.Memberships {
			next.Memberships[g] = fmtTime(at)
		}
		for _, r := range m.Revokes {
			ops = append(ops, pendingOp{Op: "revoke", Group: r.Group, Sub: r.Sub, GrantedAt: fmtTime(r.GrantedAt), At: fmtTime(r.RevokedAt), By: string(r.RevokedBy)})
		}
		for _, g := range m.Grants {
			ops = append(ops, pendingOp{Op: "grant", Group: g.Group, Sub: g.Sub, Username: g.Username, GrantedAt: fmtTime(g.GrantedAt), By: string(g.GrantedBy), Actor: actorDocOf(g.GrantedActor)})
		}
	}
	if m.Patch != 0 {
		fix, err := s.patchLaterHistory(ctx, pk, fmtTime(m.At), n.User, m.Patch, m.Recount)
		if err != nil {
			return err
		}
		c.extra = append(c.extra, fix...)
	}
	// One transaction holds MaxTransactItems items. The state, its history
	// item, the late patches and the journal item must be in it; membership intervals that do
	// not fit are recorded on the state as pending and written right after
	// (idempotently); whoever writes the user next finishes them if this
	// write dies in between.
	budget := MaxTransactItems - 2 - len(c.extra) // the state and the journal item
	if c.history != nil {
		budget--
	}
	if budget < 0 {
		return fmt.Errorf("%w: user %s: the write patches %d later history items; one transaction holds %d items", ErrTooLarge, n.Sub, len(c.extra), MaxTransactItems)
	}
	inTx := ops
	if len(ops) > budget {
		inTx, next.Pending = ops[:budget], ops[budget:]
	}
	for _, op := range inTx {
		it, err := s.membershipItem(ctx, n.PoolID, op, false)
		if err != nil {
			return err
		}
		c.extra = append(c.extra, *it)
	}
	head, err := s.write(ctx, c)
	if err != nil && (errors.Is(err, errRetry) || errors.Is(err, ErrTooLarge)) {
		return err // certainly not written
	}
	// Written, or its answer lost (then perhaps written): observers hear of
	// it either way, so a grant is never silently missed.
	s.observed(userApplied(m))
	if err != nil {
		return err
	}
	if len(next.Pending) > 0 {
		next.JHead = head
		if err := s.settle(ctx, pk, &next); err != nil && !errors.Is(err, errRetry) {
			return err
		}
		// errRetry: the user moved on (a newer writer settled them first).
	}
	return nil
}

// userApplied is what a user merge did, for observers.
func userApplied(m idmirror.UserMerge) idmirror.Applied {
	a := idmirror.Applied{Kind: "user", PoolID: m.Next.PoolID, Key: m.Next.Sub, After: m.Next.User.Fields(), Grants: m.Grants}
	if m.History != nil {
		c := m.History.Change
		a.Change, a.After = &c, m.History.State.Fields()
	}
	return a
}

// MaxTransactItems is how many items one TransactWriteItems may hold
// (DynamoDB's quota: 100 actions per transaction).
const MaxTransactItems = 100

// ErrTooLarge: a write that cannot fit DynamoDB's limits (items per
// transaction, 400 KB per item); nothing was written.
var ErrTooLarge = errors.New("write too large for one transaction")

// pendingOp is a membership interval write recorded on a user's state until done.
type pendingOp struct {
	Op        string    `dynamodbav:"op"` // grant, revoke
	Group     string    `dynamodbav:"group"`
	Sub       string    `dynamodbav:"sub"`
	Username  string    `dynamodbav:"username,omitempty"`
	GrantedAt string    `dynamodbav:"grantedAt"`
	At        string    `dynamodbav:"at,omitempty"` // revokedAt
	By        string    `dynamodbav:"by"`
	Actor     *actorDoc `dynamodbav:"actor,omitempty"` // grants: who granted it
}

// membershipItem is op as a transaction item: a grant puts the interval,
// a revoke puts the interval as it is (read consistently) with revokedAt
// and revokedBy set, or, if it is missing, an item of its key and those two
// (what an Update of a missing item would make). Every write is a whole
// Put so that the journal knows each item's content after the write.
// afterTx (settling pending intervals) keeps the idempotent rules of a
// write past the transaction: a grant only if absent, a revoke only if
// still open; nil when there is nothing to do.
func (s *Store) membershipItem(ctx context.Context, pool string, op pendingOp, afterTx bool) (*types.TransactWriteItem, error) {
	k := key(groupPK(pool, op.Group), memberSK(op.GrantedAt, op.Sub))
	var cur map[string]types.AttributeValue
	if op.Op == "revoke" || afterTx {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("read membership %s of %s: %w", op.Group, op.Sub, err)
		}
		cur = out.Item
	}
	if op.Op != "revoke" {
		if afterTx && cur != nil {
			return nil, nil
		}
		it, err := s.grantItem(pool, op.Group, op.Sub, op.Username, op.GrantedAt, idmirror.Source(op.By), op.Actor)
		return &it, err
	}
	if afterTx && (cur == nil || cur["revokedAt"] != nil) {
		return nil, nil
	}
	item := maps.Clone(cur)
	if item == nil {
		item = k
	}
	item["revokedAt"] = &types.AttributeValueMemberS{Value: op.At}
	item["revokedBy"] = &types.AttributeValueMemberS{Value: op.By}
	return &types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: item}}, nil
}

// settle writes a state's pending membership writes, as many a transaction
// as fit with the state and the journal item: each transaction puts the
// state with the rest still pending, guarded by its version and journal
// head, so the intervals written and the list of those owed change
// together (a crash leaves both as they were; a second settler loses the
// race). errRetry: the state moved on.
func (s *Store) settle(ctx context.Context, pk string, st *userState) error {
	for len(st.Pending) > 0 {
		n := min(len(st.Pending), MaxTransactItems-2)
		next := *st
		next.Pending = st.Pending[n:]
		if len(next.Pending) == 0 {
			next.Pending = nil
		}
		next.JPart = st.JPart + 1
		next.WrittenAt = fmtTime(s.now())
		var items []types.TransactWriteItem
		for _, op := range st.Pending[:n] {
			it, err := s.membershipItem(ctx, st.Pool, op, true)
			if err != nil {
				return fmt.Errorf("membership %s %s of %s: %w", op.Op, op.Group, op.Sub, err)
			}
			if it != nil {
				items = append(items, *it)
			}
		}
		av, err := attributevalue.MarshalMap(&next)
		if err != nil {
			return fmt.Errorf("encode state: %w", err)
		}
		cond, vals := stateGuard(st.Version, st.JHead)
		put := &types.Put{TableName: aws.String(s.table), Item: av, ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}
		all := append([]types.TransactWriteItem{{Put: put}}, items...)
		all, rec, err := s.journal(all, put, pk, st.Pool, st.Version, next.JPart, st.JHead)
		if err != nil {
			return err
		}
		if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all}); err != nil {
			if err := translateTxErr(err); errors.Is(err, errRetry) {
				return err
			}
			return fmt.Errorf("settle pending memberships of %s: %w", pk, translateTxErr(err))
		}
		next.JHead = rec.Hash
		st = &next
	}
	return nil
}

// patchLaterHistory returns puts that set the applied field groups, as in
// state, in every history item of pk observed after at; with recount, the
// first of them (the user's first item) also gets its changes recounted.
// Each item is put whole (read consistently, patched here), so that the
// journal knows its content after the write.
func (s *Store) patchLaterHistory(ctx context.Context, pk, at string, state idmirror.User, applied idmirror.Fields, recount bool) ([]types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(userDocOf(state))
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
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
		ConsistentRead: aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error {
		item = maps.Clone(item)
		var st map[string]types.AttributeValue
		if m, ok := item["state"].(*types.AttributeValueMemberM); ok {
			st = maps.Clone(m.Value)
		}
		if st == nil {
			st = map[string]types.AttributeValue{}
		}
		for _, fg := range idmirror.FieldClocks {
			if applied&fg.Field == 0 {
				continue
			}
			for _, name := range userStateFields[fg.Field] {
				if v, ok := av[name]; ok {
					st[name] = v
				} else {
					delete(st, name)
				}
			}
		}
		item["state"] = &types.AttributeValueMemberM{Value: st}
		if len(out) == 0 && recount {
			var h historyItem[userDoc]
			if err := attributevalue.UnmarshalMap(item, &h); err != nil {
				return fmt.Errorf("decode history: %w", err)
			}
			changes, err := attributevalue.Marshal(changesDoc(idmirror.FirstChanges(h.State.user())))
			if err != nil {
				return fmt.Errorf("encode changes: %w", err)
			}
			item["changes"] = changes
		}
		out = append(out, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: item}})
		return nil
	})
	return out, err
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
	// GrantedActor is who granted it, where known.
	GrantedActor *actorDoc `dynamodbav:"grantedActor,omitempty"`
	RevokedAt    string    `dynamodbav:"revokedAt,omitempty"`
	RevokedBy    string    `dynamodbav:"revokedBy,omitempty"`
}

func (s *Store) grantItem(pool, group, sub, username, at string, src idmirror.Source, actor *actorDoc) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(memberItem{
		PK: groupPK(pool, group), SK: memberSK(at, sub), Kind: "member", Pool: pool, Group: group,
		Sub: sub, Username: username, GrantedAt: at, GrantedBy: string(src), GrantedActor: actor,
	})
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode membership: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: av}}, nil
}

// GetUser returns the current state of a user (a tombstone has Deleted set).
func (s *Store) GetUser(ctx context.Context, pool, sub string) (idmirror.UserRecord, error) {
	it, err := getState[userDoc](ctx, s, userPK(pool, sub))
	if err != nil {
		return idmirror.UserRecord{}, err
	}
	if it == nil {
		return idmirror.UserRecord{}, fmt.Errorf("user %s in %s: %w", sub, pool, idmirror.ErrNotFound)
	}
	return userRecord(it), nil
}

// FindByUsername returns the users of pool with that username: at most one
// live user, and any tombstones of earlier users that had it.
func (s *Store) FindByUsername(ctx context.Context, pool, username string) ([]idmirror.UserRecord, error) {
	return s.findUsers(ctx, IndexByUsername, attrUnamePK, unameKey(pool, username))
}

// FindByEmail returns the users of pool with that email (compared without case).
func (s *Store) FindByEmail(ctx context.Context, pool, email string) ([]idmirror.UserRecord, error) {
	return s.findUsers(ctx, IndexByEmail, attrEmailPK, emailKey(pool, email))
}

func (s *Store) findUsers(ctx context.Context, index, attr, value string) ([]idmirror.UserRecord, error) {
	var out []idmirror.UserRecord
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
