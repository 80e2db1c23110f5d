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
	unknown := "(attribute_not_exists(#a) OR #a.#t = :sync)"
	names := map[string]string{"#a": "actor", "#t": "type"}
	vals := map[string]types.AttributeValue{":a": actor, ":sync": &types.AttributeValueMemberS{Value: idmirror.ActorSync}}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(s.table), Key: key(pk, hit.SK),
		UpdateExpression:          aws.String("SET #a = :a"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND " + unknown),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}}}
	if e.Kind == "user" && e.Group != "" {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.table), Key: key(groupPK(e.PoolID, e.Group), memberSK(hit.ObservedAt, e.Key)),
			UpdateExpression:          aws.String("SET #a = :a"),
			ConditionExpression:       aws.String("attribute_exists(pk) AND " + unknown),
			ExpressionAttributeNames:  map[string]string{"#a": "grantedActor", "#t": "type"},
			ExpressionAttributeValues: vals,
		}})
	}
	for len(items) > 0 {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		switch err := translateTxErr(err); {
		case err == nil:
			return true, nil
		case !errors.Is(err, errRetry):
			return false, err
		}
		// Explained meanwhile by another event, or the interval is not
		// (or no longer) the grant's: try the history item alone, then
		// leave what is recorded.
		items = items[:len(items)-1]
	}
	return false, nil
}
