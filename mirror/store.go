// Package mirror is the DynamoDB mirror of Cognito user pools: the only code
// that knows the table's keys, item shapes, indexes and conditions. The
// layout is documented in docs/mirror-table.md.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Store reads and writes the mirror table.
type Store struct {
	db    API
	table string
	log   *zap.Logger
	// MaxAttempts bounds the optimistic-lock retries of one write.
	MaxAttempts int
	now         func() time.Time // the store's clock (writtenAt, the journal's at)
	observe     idmirror.ChangeObserver
}

// Observe registers fn to learn of every history item the store commits
// (see idmirror.ChangeObserver); nil removes it. Set it before writing.
func (s *Store) Observe(fn idmirror.ChangeObserver) { s.observe = fn }

func (s *Store) observed(a idmirror.Applied) {
	if s.observe != nil && (a.Change != nil || len(a.Grants) > 0) {
		s.observe(a)
	}
}

// New returns a store for table. A nil logger logs nothing.
func New(db API, table string, log *zap.Logger) *Store {
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{db: db, table: table, log: log, MaxAttempts: 25, now: time.Now}
}

// Table returns the table's name.
func (s *Store) Table() string { return s.table }

// stateItem is the shape of a STATE item; T is the entity.
type stateItem[T any] struct {
	PK          string            `dynamodbav:"pk"`
	SK          string            `dynamodbav:"sk"`
	Kind        string            `dynamodbav:"kind"`
	Pool        string            `dynamodbav:"pool"`
	Key         string            `dynamodbav:"key"` // sub, group name, "config" or "rolemap"
	State       T                 `dynamodbav:"state"`
	Deleted     bool              `dynamodbav:"deleted"`
	Version     int64             `dynamodbav:"version"`
	ObservedAt  string            `dynamodbav:"observedAt"`
	ChangedAt   string            `dynamodbav:"changedAt"`
	Source      string            `dynamodbav:"source"`
	Clocks      map[string]string `dynamodbav:"clocks,omitempty"`      // users: observation time per field group
	Memberships map[string]string `dynamodbav:"memberships,omitempty"` // users: open group → grantedAt
	Pending     []pendingOp       `dynamodbav:"pending,omitempty"`     // users: membership writes past one transaction, not yet done
	UnamePK     string            `dynamodbav:"unamePK,omitempty"`
	EmailPK     string            `dynamodbav:"emailPK,omitempty"`
	PoolPK      string            `dynamodbav:"poolPK,omitempty"`
	PoolSK      string            `dynamodbav:"poolSK,omitempty"`
	WrittenAt   string            `dynamodbav:"writtenAt"`
	// JHead is the hash of the last journal record of the entity (the next
	// write chains after it); JPart that record's part (settles of pending
	// intervals add parts to a version).
	JHead string `dynamodbav:"jhead,omitempty"`
	JPart int    `dynamodbav:"jpart,omitempty"`
}

func (it *stateItem[T]) meta() idmirror.Meta {
	return idmirror.Meta{Version: it.Version, ObservedAt: parseTime(it.ObservedAt), Source: idmirror.Source(it.Source), ChangedAt: parseTime(it.ChangedAt)}
}

// historyItem is the shape of an H# item; T is the entity.
type historyItem[T any] struct {
	PK         string                    `dynamodbav:"pk"`
	SK         string                    `dynamodbav:"sk"`
	Kind       string                    `dynamodbav:"kind"` // user-history, group-history, …
	Pool       string                    `dynamodbav:"pool"`
	Key        string                    `dynamodbav:"key"`
	Name       string                    `dynamodbav:"name,omitempty"` // username or group name, for readers
	Source     string                    `dynamodbav:"source"`
	ObservedAt string                    `dynamodbav:"observedAt"`
	SourceTime string                    `dynamodbav:"sourceTime,omitempty"`
	Version    int64                     `dynamodbav:"version"`
	Changes    map[string]fieldChangeDoc `dynamodbav:"changes"`
	State      T                         `dynamodbav:"state"`
	Note       string                    `dynamodbav:"note,omitempty"`
	Actor      *actorDoc                 `dynamodbav:"actor,omitempty"`
	DayPK      string                    `dynamodbav:"dayPK"`
	DaySK      string                    `dynamodbav:"daySK"`
	WrittenAt  string                    `dynamodbav:"writtenAt"`
}

// getState reads the STATE item of pk with a consistent read; nil if absent.
func getState[T any](ctx context.Context, s *Store, pk string) (*stateItem[T], error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, skState),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", pk, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var it stateItem[T]
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("decode %s: %w", pk, err)
	}
	return &it, nil
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pk},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// commit is one write of an entity: the new state item, and either a
// history item (a change) or nothing (a clock bump), plus extra items
// (membership intervals) in the same transaction.
type commit struct {
	pk          string
	prevVersion int64  // 0: the item must not exist yet
	prevHead    string // the entity's journal head before the write
	pool        string
	version     int64 // the version the write makes
	state       any
	history     any // nil: no change, only the clocks moved
	extra       []types.TransactWriteItem
}

var errRetry = errors.New("lost a race; retry")

// write commits c in one transaction with its journal item; it returns
// the entity's new journal head.
func (s *Store) write(ctx context.Context, c commit) (string, error) {
	stateAV, err := attributevalue.MarshalMap(c.state)
	if err != nil {
		return "", fmt.Errorf("encode state: %w", err)
	}
	cond, vals := "attribute_not_exists(pk)", map[string]types.AttributeValue(nil)
	if c.prevVersion > 0 {
		// The journal head too: a settle of pending intervals moves it
		// without a new version.
		cond, vals = stateGuard(c.prevVersion, c.prevHead)
	}
	put := &types.Put{TableName: aws.String(s.table), Item: stateAV, ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}
	items := []types.TransactWriteItem{{Put: put}}
	if c.history != nil {
		histAV, err := attributevalue.MarshalMap(c.history)
		if err != nil {
			return "", fmt.Errorf("encode history: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table), Item: histAV, ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}})
	}
	items = append(items, c.extra...)
	items, rec, err := s.journal(items, put, c.pk, c.pool, c.version, 0, c.prevHead)
	if err != nil {
		return "", err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return rec.Hash, translateTxErr(err)
}

func translateTxErr(err error) error {
	if err == nil {
		return nil
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if c := aws.ToString(r.Code); c == "ConditionalCheckFailed" || c == "TransactionConflict" {
				return errRetry
			}
		}
	}
	var tcf *types.TransactionConflictException
	if errors.As(err, &tcf) {
		return errRetry
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return errRetry
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "size") {
		// An item over 400 KB (or a transaction over 4 MB): DynamoDB's limits.
		return fmt.Errorf("transact write: %w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("transact write: %w", err)
}

// retry runs attempt until it returns something other than errRetry, with
// jittered backoff, at most MaxAttempts times.
func (s *Store) retry(ctx context.Context, what string, attempt func() (idmirror.Outcome, error)) (idmirror.Outcome, error) {
	for i := 0; ; i++ {
		o, err := attempt()
		if !errors.Is(err, errRetry) {
			return o, err
		}
		if i+1 >= s.MaxAttempts {
			return 0, fmt.Errorf("%s: %w after %d attempts", what, idmirror.ErrConflict, i+1)
		}
		d := time.Duration(1+rand.IntN(1<<min(i, 5))) * time.Millisecond
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(d):
		}
	}
}

// newHistory is the stored shape of a history entry; D is the stored state.
func newHistory[T, D any](c codec[T, D], kind, pk string, e *idmirror.Entry[T], now time.Time) historyItem[D] {
	ats := fmtTime(e.At)
	return historyItem[D]{
		PK: pk, SK: historySK(ats, e.Version), Kind: kind + "-history", Pool: e.PoolID, Key: e.Key, Name: e.Name,
		Source: string(e.Source), ObservedAt: ats, SourceTime: fmtTime(e.SourceTime), Version: e.Version,
		Changes: changesDoc(e.Fields), State: c.enc(e.State), Note: e.Note, Actor: actorDocOf(e.Actor),
		DayPK: dayKey(e.PoolID, e.At, shardOf(pk, dayShards)), DaySK: ats + "#" + pk,
		WrittenAt: fmtTime(now),
	}
}
