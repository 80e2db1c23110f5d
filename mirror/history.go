package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

func entryOf[T, D any](c codec[T, D], h *historyItem[D]) idmirror.Entry[T] {
	e := idmirror.Entry[T]{Change: changeOf(h)}
	e.State = c.dec(h.State)
	return e
}

func changeOf[D any](h *historyItem[D]) idmirror.Change {
	kind := h.Kind
	if n := len(kind) - len("-history"); n > 0 {
		kind = kind[:n]
	}
	return idmirror.Change{
		Kind: kind, PoolID: h.Pool, Key: h.Key, Name: h.Name, At: parseTime(h.ObservedAt),
		Source: idmirror.Source(h.Source), SourceTime: parseTime(h.SourceTime), Version: h.Version,
		Fields: changesOf(h.Changes), Note: h.Note, Actor: h.Actor.actor(),
	}
}

// history returns the history of pk, oldest first.
func history[T, D any](ctx context.Context, s *Store, c codec[T, D], pk string) ([]idmirror.Entry[T], error) {
	var out []idmirror.Entry[T]
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :h)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":h":  &types.AttributeValueMemberS{Value: skHistory},
		},
	}, func(item map[string]types.AttributeValue) error {
		var h historyItem[D]
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			return fmt.Errorf("decode history: %w", err)
		}
		out = append(out, entryOf(c, &h))
		return nil
	})
	return out, err
}

// asOf returns the state of pk after the last change observed at or before
// t: one Query, newest first, Limit 1. ok is false if pk had no history yet.
func asOf[T, D any](ctx context.Context, s *Store, c codec[T, D], pk string, t time.Time) (e idmirror.Entry[T], ok bool, err error) {
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
	var h historyItem[D]
	if err := attributevalue.UnmarshalMap(out.Items[0], &h); err != nil {
		return e, false, fmt.Errorf("decode history: %w", err)
	}
	return entryOf(c, &h), true, nil
}

// stateAsOf returns the state of pk as of t; ErrNotFound (naming what) if
// the mirror had no record of it yet.
func stateAsOf[T, D any](ctx context.Context, s *Store, c codec[T, D], pk, what string, t time.Time) (T, error) {
	e, ok, err := asOf(ctx, s, c, pk, t)
	if err == nil && !ok {
		err = fmt.Errorf("%s as of %s: %w", what, fmtTime(t), idmirror.ErrNotFound)
	}
	return e.State, err
}

// UserHistory returns every change of a user, oldest first.
func (s *Store) UserHistory(ctx context.Context, pool, sub string) ([]idmirror.Entry[idmirror.User], error) {
	return history(ctx, s, userCodec, userPK(pool, sub))
}

// UserAsOf returns the user as the mirror knew it at t (a tombstone if it
// was deleted by then). ErrNotFound if the mirror had no record of it yet.
func (s *Store) UserAsOf(ctx context.Context, pool, sub string, t time.Time) (idmirror.User, error) {
	return stateAsOf(ctx, s, userCodec, userPK(pool, sub), "user "+sub+" in "+pool, t)
}

// Changes calls fn for every change of the pool observed in the window, in
// time order. It queries the byDay index, one key per day and shard, and
// merges the shards' pages as they stream: memory holds one page per shard,
// however many changes the window has.
func (s *Store) Changes(ctx context.Context, q idmirror.ChangeQuery, fn func(idmirror.Change) error) error {
	to := q.To
	if to.IsZero() {
		to = time.Now()
	}
	if q.PoolID == "" || q.From.IsZero() || q.From.After(to) {
		// From is required: each day of the window costs one query per shard.
		return fmt.Errorf("%w: changes: need a pool and a From <= To", idmirror.ErrInvalid)
	}
	from := q.From.UTC()
	lo, hi := fmtTime(from), fmtTime(to)+skHighest
	for day := from.Truncate(24 * time.Hour); !day.After(to); day = day.Add(24 * time.Hour) {
		shards := make([]*changeCursor, dayShards)
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
			shards[shard] = &changeCursor{pages: dynamodb.NewQueryPaginator(s.db, in)}
		}
		for {
			var next *changeCursor
			for _, c := range shards {
				ok, err := c.fill(ctx)
				if err != nil {
					return err
				}
				if ok && (next == nil || c.head().sk < next.head().sk) {
					next = c
				}
			}
			if next == nil {
				break
			}
			if err := fn(next.pop()); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeCursor streams one shard's changes, ordered by daySK (time, then entity).
type changeCursor struct {
	pages *dynamodb.QueryPaginator
	buf   []sortedChange
}

type sortedChange struct {
	sk string
	c  idmirror.Change
}

// fill makes sure the cursor holds a change, reading the next page if
// needed; false when the shard is exhausted.
func (c *changeCursor) fill(ctx context.Context) (bool, error) {
	for len(c.buf) == 0 {
		if !c.pages.HasMorePages() {
			return false, nil
		}
		page, err := c.pages.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("query %s: %w", IndexByDay, err)
		}
		for _, item := range page.Items {
			var h historyItem[struct{}]
			if err := attributevalue.UnmarshalMap(item, &h); err != nil {
				return false, fmt.Errorf("decode change: %w", err)
			}
			c.buf = append(c.buf, sortedChange{sk: h.DaySK, c: changeOf(&h)})
		}
	}
	return true, nil
}

func (c *changeCursor) head() sortedChange { return c.buf[0] }

func (c *changeCursor) pop() idmirror.Change {
	ch := c.buf[0].c
	c.buf = c.buf[1:]
	return ch
}
