package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

// putWhole writes an entity observed whole, with one clock (groups, the
// pool configuration, the role map).
func putWhole[T, D any](ctx context.Context, s *Store, c codec[T, D], pk, poolPK, poolSK string, w idmirror.WholeWrite[T]) (idmirror.Outcome, error) {
	return s.retry(ctx, "put "+w.Kind+" "+w.Key, func() (idmirror.Outcome, error) {
		it, err := getState[D](ctx, s, pk)
		if err != nil {
			return 0, err
		}
		var cur *idmirror.WholeRecord[T]
		if it != nil {
			cur = &idmirror.WholeRecord[T]{State: c.dec(it.State), Deleted: it.Deleted, Meta: it.meta()}
		}
		m, err := idmirror.MergeWhole(cur, w)
		if err != nil || m.Outcome == idmirror.Stale {
			return m.Outcome, err
		}
		now := s.now()
		n := m.Next
		next := stateItem[D]{PK: pk, SK: skState, Kind: w.Kind, Pool: w.PoolID, Key: w.Key, State: c.enc(n.State),
			Deleted: n.Deleted, ObservedAt: fmtTime(n.ObservedAt), ChangedAt: fmtTime(n.ChangedAt), Source: string(n.Source),
			PoolPK: poolPK, PoolSK: poolSK, Version: n.Version, WrittenAt: fmtTime(now)}
		cm := commit{pk: pk, prevVersion: n.Version - 1, pool: w.PoolID, version: n.Version, state: &next}
		if it != nil {
			cm.prevHead = it.JHead
		}
		if m.History != nil {
			h := newHistory(c, w.Kind, pk, m.History, now)
			cm.history = &h
		}
		_, err = s.write(ctx, cm)
		if err != nil && errors.Is(err, errRetry) {
			return 0, err
		}
		if m.History != nil { // written, or its answer lost: see commitUser
			after := w.Flatten(m.History.State)
			if w.Delete {
				after["deleted"] = "true"
			}
			c := m.History.Change
			s.observed(idmirror.Applied{Kind: w.Kind, PoolID: w.PoolID, Key: w.Key, Change: &c, After: after})
		}
		if err != nil {
			return 0, err
		}
		return m.Outcome, nil
	})
}

// PutGroup applies one observation of a group definition.
func (s *Store) PutGroup(ctx context.Context, w idmirror.GroupWrite) (idmirror.Outcome, error) {
	ww, err := w.Whole()
	if err != nil {
		return 0, err
	}
	g := w.Group
	return putWhole(ctx, s, groupCodec, groupPK(g.PoolID, g.Name), poolGroupKey(g.PoolID), g.Name, ww)
}

// GetGroup returns a group's current state (a tombstone has Deleted set).
func (s *Store) GetGroup(ctx context.Context, pool, name string) (idmirror.GroupRecord, error) {
	it, err := getState[groupDoc](ctx, s, groupPK(pool, name))
	if err != nil {
		return idmirror.GroupRecord{}, err
	}
	if it == nil {
		return idmirror.GroupRecord{}, fmt.Errorf("group %s in %s: %w", name, pool, idmirror.ErrNotFound)
	}
	return idmirror.GroupRecord{Group: it.State.group(), Meta: it.meta()}, nil
}

// Groups returns every group of the pool the mirror knows, tombstones included, by name.
func (s *Store) Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error) {
	var out []idmirror.GroupRecord
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByPool),
		KeyConditionExpression:    aws.String("poolPK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: poolGroupKey(pool)}},
	}, func(item map[string]types.AttributeValue) error {
		var it stateItem[groupDoc]
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return fmt.Errorf("decode group: %w", err)
		}
		out = append(out, idmirror.GroupRecord{Group: it.State.group(), Meta: it.meta()})
		return nil
	})
	return out, err
}

// GroupHistory returns every change of a group definition, oldest first.
func (s *Store) GroupHistory(ctx context.Context, pool, name string) ([]idmirror.Entry[idmirror.Group], error) {
	return history(ctx, s, groupCodec, groupPK(pool, name))
}

// GroupAsOf returns the group as the mirror knew it at t.
func (s *Store) GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error) {
	return stateAsOf(ctx, s, groupCodec, groupPK(pool, name), "group "+name+" in "+pool, t)
}

// Members returns the members of a group at t (zero t: now), each with the
// interval that held then, ordered by grant time. One Query on the group's
// item collection.
func (s *Store) Members(ctx context.Context, pool, group string, t time.Time) ([]idmirror.Membership, error) {
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: groupPK(pool, group)},
			":lo": &types.AttributeValueMemberS{Value: skMember},
		},
		ConsistentRead: aws.Bool(true),
	}
	if t.IsZero() {
		in.KeyConditionExpression = aws.String("pk = :pk AND begins_with(sk, :lo)")
		in.FilterExpression = aws.String("attribute_not_exists(revokedAt)")
	} else {
		ts := fmtTime(t)
		in.KeyConditionExpression = aws.String("pk = :pk AND sk BETWEEN :lo AND :hi")
		in.FilterExpression = aws.String("attribute_not_exists(revokedAt) OR revokedAt > :t")
		in.ExpressionAttributeValues[":hi"] = &types.AttributeValueMemberS{Value: skMember + ts + skHighest}
		in.ExpressionAttributeValues[":t"] = &types.AttributeValueMemberS{Value: ts}
	}
	var out []idmirror.Membership
	err := s.query(ctx, in, func(item map[string]types.AttributeValue) error {
		var m memberItem
		if err := attributevalue.UnmarshalMap(item, &m); err != nil {
			return fmt.Errorf("decode membership: %w", err)
		}
		out = append(out, idmirror.Membership{Group: m.Group, Sub: m.Sub, Username: m.Username,
			GrantedAt: parseTime(m.GrantedAt), GrantedBy: idmirror.Source(m.GrantedBy), GrantedActor: m.GrantedActor.actor(),
			RevokedAt: parseTime(m.RevokedAt), RevokedBy: idmirror.Source(m.RevokedBy)})
		return nil
	})
	return out, err
}

// PutPoolConfig records an observation of the pool's configuration.
func (s *Store) PutPoolConfig(ctx context.Context, cfg idmirror.PoolConfig, at time.Time, src idmirror.Source) (idmirror.Outcome, error) {
	return putWhole(ctx, s, configCodec, configPK(cfg.PoolID), "", "", idmirror.PoolConfigWrite(cfg, at, src))
}

// PoolConfig returns the pool's configuration as last mirrored.
func (s *Store) PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error) {
	it, err := getState[configDoc](ctx, s, configPK(pool))
	if err != nil {
		return idmirror.PoolConfig{}, idmirror.Meta{}, err
	}
	if it == nil {
		return idmirror.PoolConfig{}, idmirror.Meta{}, fmt.Errorf("configuration of pool %s: %w", pool, idmirror.ErrNotFound)
	}
	return it.State.config(), it.meta(), nil
}

// PutRoleMap records the role map in force for the pool.
func (s *Store) PutRoleMap(ctx context.Context, pool string, m idmirror.RoleMap, at time.Time, src idmirror.Source) (idmirror.Outcome, error) {
	w, err := idmirror.RoleMapWrite(pool, m, at, src)
	if err != nil {
		return 0, err
	}
	return putWhole(ctx, s, roleMapCodec, roleMapPK(pool), "", "", w)
}

// RoleMapAsOf returns the role map in force for the pool at t (zero t: now).
func (s *Store) RoleMapAsOf(ctx context.Context, pool string, t time.Time) (idmirror.RoleMap, error) {
	if t.IsZero() {
		t = time.Now()
	}
	return stateAsOf(ctx, s, roleMapCodec, roleMapPK(pool), "role map of pool "+pool, t)
}
