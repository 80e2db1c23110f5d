package mirror

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

// Change is one history item: what changed on an entity, when, and who saw it.
type Change struct {
	Kind       string // user, group, config, rolemap
	PoolID     string
	Key        string // sub, group name, "config", "rolemap"
	Name       string // username or group name
	At         time.Time
	Source     idmirror.Source
	SourceTime time.Time
	Version    int64
	Fields     map[string]FieldChange
	Note       string
}

// Entry is a change with the full state after it.
type Entry[T any] struct {
	Change
	State T
}

func (h *historyItem[T]) entry() Entry[T] {
	kind := h.Kind
	if n := len(kind) - len("-history"); n > 0 {
		kind = kind[:n]
	}
	return Entry[T]{Change: Change{
		Kind: kind, PoolID: h.Pool, Key: h.Key, Name: h.Name, At: parseTime(h.ObservedAt),
		Source: idmirror.Source(h.Source), SourceTime: parseTime(h.SourceTime), Version: h.Version,
		Fields: h.Changes, Note: h.Note,
	}, State: h.State}
}

// history returns the history of pk, oldest first.
func history[T any](ctx context.Context, s *Store, pk string) ([]Entry[T], error) {
	var out []Entry[T]
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :h)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":h":  &types.AttributeValueMemberS{Value: skHistory},
		},
	}, func(item map[string]types.AttributeValue) error {
		var h historyItem[T]
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			return fmt.Errorf("decode history: %w", err)
		}
		out = append(out, h.entry())
		return nil
	})
	return out, err
}

// asOf returns the state of pk after the last change observed at or before
// t: one Query, newest first, Limit 1. ok is false if pk had no history yet.
func asOf[T any](ctx context.Context, s *Store, pk string, t time.Time) (e Entry[T], ok bool, err error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":lo": &types.AttributeValueMemberS{Value: skHistory},
			":hi": &types.AttributeValueMemberS{Value: skHistory + fmtTime(t) + skHighest},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(1),
		ConsistentRead:   aws.Bool(true),
	})
	if err != nil {
		return e, false, fmt.Errorf("query %s as of %s: %w", pk, fmtTime(t), err)
	}
	if len(out.Items) == 0 {
		return e, false, nil
	}
	var h historyItem[T]
	if err := attributevalue.UnmarshalMap(out.Items[0], &h); err != nil {
		return e, false, fmt.Errorf("decode history: %w", err)
	}
	return h.entry(), true, nil
}

// stateAsOf returns the state of pk as of t; ErrNotFound (naming what) if
// the mirror had no record of it yet.
func stateAsOf[T any](ctx context.Context, s *Store, pk, what string, t time.Time) (T, error) {
	e, ok, err := asOf[T](ctx, s, pk, t)
	if err == nil && !ok {
		err = fmt.Errorf("%s as of %s: %w", what, fmtTime(t), idmirror.ErrNotFound)
	}
	return e.State, err
}

// UserHistory returns every change of a user, oldest first.
func (s *Store) UserHistory(ctx context.Context, pool, sub string) ([]Entry[idmirror.User], error) {
	return history[idmirror.User](ctx, s, userPK(pool, sub))
}

// UserAsOf returns the user as the mirror knew it at t (a tombstone if it
// was deleted by then). ErrNotFound if the mirror had no record of it yet.
func (s *Store) UserAsOf(ctx context.Context, pool, sub string, t time.Time) (idmirror.User, error) {
	return stateAsOf[idmirror.User](ctx, s, userPK(pool, sub), "user "+sub+" in "+pool, t)
}

// ChangeQuery selects changes of one pool in a time window.
type ChangeQuery struct {
	PoolID   string
	From, To time.Time       // inclusive; To zero means now
	Source   idmirror.Source // "" for every source
}

// Changes calls fn for every change of the pool observed in the window, in
// time order. It queries the byDay index, one key per day and shard.
func (s *Store) Changes(ctx context.Context, q ChangeQuery, fn func(Change) error) error {
	to := q.To
	if to.IsZero() {
		to = time.Now()
	}
	if q.PoolID == "" || q.From.After(to) {
		return fmt.Errorf("%w: changes: need a pool and From <= To", idmirror.ErrInvalid)
	}
	from := q.From.UTC()
	lo, hi := fmtTime(from), fmtTime(to)+skHighest
	for day := from.Truncate(24 * time.Hour); !day.After(to); day = day.Add(24 * time.Hour) {
		var batch []Change
		for shard := range dayShards {
			in := &dynamodb.QueryInput{
				TableName:              aws.String(s.table),
				IndexName:              aws.String(IndexByDay),
				KeyConditionExpression: aws.String("dayPK = :d AND daySK BETWEEN :lo AND :hi"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":d":  &types.AttributeValueMemberS{Value: dayKey(q.PoolID, day, shard)},
					":lo": &types.AttributeValueMemberS{Value: lo},
					":hi": &types.AttributeValueMemberS{Value: hi},
				},
			}
			if q.Source != "" {
				in.FilterExpression = aws.String("#s = :s")
				in.ExpressionAttributeNames = map[string]string{"#s": "source"}
				in.ExpressionAttributeValues[":s"] = &types.AttributeValueMemberS{Value: string(q.Source)}
			}
			err := s.query(ctx, in, func(item map[string]types.AttributeValue) error {
				var h historyItem[struct{}]
				if err := attributevalue.UnmarshalMap(item, &h); err != nil {
					return fmt.Errorf("decode change: %w", err)
				}
				batch = append(batch, h.entry().Change)
				return nil
			})
			if err != nil {
				return err
			}
		}
		sort.SliceStable(batch, func(i, j int) bool {
			if !batch[i].At.Equal(batch[j].At) {
				return batch[i].At.Before(batch[j].At)
			}
			return batch[i].Key < batch[j].Key
		})
		for _, c := range batch {
			if err := fn(c); err != nil {
				return err
			}
		}
	}
	return nil
}
