package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

// ExplainChange attaches a late event's actor to the history item it
// explains (see idmirror.Explanation): it reads the entity's history from
// e.Since forward, oldest first, and updates the first item that made the
// change — only if its actor is still unknown, under a condition that says
// so, with the grant's membership interval in the same transaction. It
// reports whether an actor was attached.
func (s *Store) ExplainChange(ctx context.Context, e idmirror.Explanation) (bool, error) {
	var pk string
	switch e.Kind {
	case "user":
		pk = userPK(e.PoolID, e.Key)
	case "group":
		pk = groupPK(e.PoolID, e.Key)
	default:
		return false, fmt.Errorf("%w: explain: unknown kind %q", idmirror.ErrInvalid, e.Kind)
	}
	if e.PoolID == "" || e.Key == "" || e.Field == "" || e.Actor.IsZero() {
		return false, fmt.Errorf("%w: explain: need a pool, a key, a field and an actor", idmirror.ErrInvalid)
	}
	e.Actor.Inferred = true // see idmirror.Actor.Inferred
	var hit *historyItem[struct{}]
	errStop := errors.New("stop")
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":lo": &types.AttributeValueMemberS{Value: skHistory + fmtTime(e.Since)},
			":hi": &types.AttributeValueMemberS{Value: "H$"}, // just past every H# key
		},
		ConsistentRead: aws.Bool(true),
	}, func(item map[string]types.AttributeValue) error {
		var h historyItem[struct{}]
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			return fmt.Errorf("decode history: %w", err)
		}
		found, attach := e.Explains(changeOf(&h))
		if !found {
			return nil
		}
		if attach {
			hit = &h
		}
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, err
	}
	if hit == nil {
		return false, nil
	}
	actor, err := attributevalue.Marshal(actorDocOf(e.Actor))
	if err != nil {
		return false, fmt.Errorf("encode actor: %w", err)
	}
	// The item is amended in place, journaled as the next part of the
	// entity's version, and only if its actor is still unknown as read in
	// the amendment's own transaction (a concurrent explanation wins).
	errKnown := errors.New("explained meanwhile")
	unknown := func(item map[string]types.AttributeValue, attr string) bool {
		var d *actorDoc
		if v, ok := item[attr]; ok {
			if err := attributevalue.Unmarshal(v, &d); err != nil {
				return false
			}
		}
		return d.actor().Unknown()
	}
	var also *itemEdit
	if e.Kind == "user" && e.Group != "" {
		also = &itemEdit{pk: groupPK(e.PoolID, e.Group), sk: memberSK(hit.ObservedAt, e.Key), edit: func(item map[string]types.AttributeValue) bool {
			if !unknown(item, "grantedActor") {
				return false
			}
			item["grantedActor"] = actor
			return true
		}}
	}
	err = s.amendItems(ctx, pk, hit.SK, func(item map[string]types.AttributeValue) error {
		if !unknown(item, "actor") {
			return errKnown
		}
		item["actor"] = actor
		return nil
	}, also)
	switch {
	case errors.Is(err, errKnown):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
