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

// GroupWrite is one observation of a group definition.
type GroupWrite struct {
	Group      idmirror.Group // PoolID and Name are required
	Delete     bool           // the group is gone: a tombstone
	At         time.Time
	Source     idmirror.Source
	SourceTime time.Time
}

// simple describes a write of an entity observed whole, with one clock
// (groups, the pool configuration, the role map).
type simple[T any] struct {
	kind, pool, key, name string
	pk, poolPK, poolSK    string
	state                 T
	fields                func(T) map[string]string
	deleted               bool
	at, sourceTime        time.Time
	source                idmirror.Source
}

func putSimple[T any](ctx context.Context, s *Store, w simple[T]) (Outcome, error) {
	if !w.source.Valid() || w.at.IsZero() || w.pool == "" {
		return 0, fmt.Errorf("%w: %s write: need a pool, a known source and an observation time", idmirror.ErrInvalid, w.kind)
	}
	at := fmtTime(w.at)
	return s.retry(ctx, "put "+w.kind+" "+w.key, func() (Outcome, error) {
		cur, err := getState[T](ctx, s, w.pk)
		if err != nil {
			return 0, err
		}
		if cur == nil && w.deleted {
			return 0, fmt.Errorf("tombstone %s %s: %w", w.kind, w.key, idmirror.ErrNotFound)
		}
		if cur != nil && cur.ObservedAt >= at {
			return Stale, nil
		}
		now := time.Now()
		next := stateItem[T]{PK: w.pk, SK: skState, Kind: w.kind, Pool: w.pool, Key: w.key, State: w.state,
			Deleted: w.deleted, ObservedAt: at, Source: string(w.source), PoolPK: w.poolPK, PoolSK: w.poolSK,
			Version: 1, WrittenAt: fmtTime(now)}
		var before map[string]string
		if cur != nil {
			before = w.fields(cur.State)
			next.Version = cur.Version + 1
			next.ChangedAt = cur.ChangedAt
		}
		after := w.fields(w.state)
		if w.deleted {
			after["deleted"] = "true"
		}
		if cur != nil && cur.Deleted {
			before["deleted"] = "true"
		}
		changes := diffFields(before, after)
		c := commit{pk: w.pk, prevVersion: next.Version - 1, state: &next}
		if len(changes) > 0 {
			next.ChangedAt = at
			h := newHistory(w.kind+"-history", w.pool, w.key, w.pk, w.name, w.source, w.at, w.sourceTime, next.Version, changes, w.state, now)
			c.history = &h
		}
		if err := s.write(ctx, c); err != nil {
			return 0, err
		}
		if len(changes) == 0 {
			return Unchanged, nil
		}
		return Changed, nil
	})
}

// PutGroup applies one observation of a group definition.
func (s *Store) PutGroup(ctx context.Context, w GroupWrite) (Outcome, error) {
	g := w.Group
	if g.Name == "" {
		return 0, fmt.Errorf("%w: group write: missing name", idmirror.ErrInvalid)
	}
	g.Deleted = w.Delete
	return putSimple(ctx, s, simple[idmirror.Group]{
		kind: "group", pool: g.PoolID, key: g.Name, name: g.Name,
		pk: groupPK(g.PoolID, g.Name), poolPK: poolGroupKey(g.PoolID), poolSK: g.Name,
		state: g, fields: idmirror.Group.Fields, deleted: w.Delete,
		at: w.At, sourceTime: w.SourceTime, source: w.Source,
	})
}

// GroupRecord is a group's current state with its bookkeeping.
type GroupRecord struct {
	idmirror.Group
	Meta
}

// GetGroup returns a group's current state (a tombstone has Deleted set).
func (s *Store) GetGroup(ctx context.Context, pool, name string) (GroupRecord, error) {
	it, err := getState[idmirror.Group](ctx, s, groupPK(pool, name))
	if err != nil {
		return GroupRecord{}, err
	}
	if it == nil {
		return GroupRecord{}, fmt.Errorf("group %s in %s: %w", name, pool, idmirror.ErrNotFound)
	}
	return GroupRecord{Group: it.State, Meta: it.meta()}, nil
}

// Groups returns every group of the pool the mirror knows, tombstones included, by name.
func (s *Store) Groups(ctx context.Context, pool string) ([]GroupRecord, error) {
	var out []GroupRecord
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByPool),
		KeyConditionExpression:    aws.String("poolPK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: poolGroupKey(pool)}},
	}, func(item map[string]types.AttributeValue) error {
		var it stateItem[idmirror.Group]
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return fmt.Errorf("decode group: %w", err)
		}
		out = append(out, GroupRecord{Group: it.State, Meta: it.meta()})
		return nil
	})
	return out, err
}

// GroupHistory returns every change of a group definition, oldest first.
func (s *Store) GroupHistory(ctx context.Context, pool, name string) ([]Entry[idmirror.Group], error) {
	return history[idmirror.Group](ctx, s, groupPK(pool, name))
}

// GroupAsOf returns the group as the mirror knew it at t.
func (s *Store) GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error) {
	return stateAsOf[idmirror.Group](ctx, s, groupPK(pool, name), "group "+name+" in "+pool, t)
}

// Membership is one interval of a user's membership in a group.
type Membership struct {
	Group, Sub, Username string
	GrantedAt            time.Time
	GrantedBy            idmirror.Source
	RevokedAt            time.Time // zero while the membership lasts
	RevokedBy            idmirror.Source
}

// Members returns the members of a group at t (zero t: now), each with the
// interval that held then, ordered by grant time. One Query on the group's
// item collection.
func (s *Store) Members(ctx context.Context, pool, group string, t time.Time) ([]Membership, error) {
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
	var out []Membership
	err := s.query(ctx, in, func(item map[string]types.AttributeValue) error {
		var m memberItem
		if err := attributevalue.UnmarshalMap(item, &m); err != nil {
			return fmt.Errorf("decode membership: %w", err)
		}
		out = append(out, Membership{Group: m.Group, Sub: m.Sub, Username: m.Username,
			GrantedAt: parseTime(m.GrantedAt), GrantedBy: idmirror.Source(m.GrantedBy),
			RevokedAt: parseTime(m.RevokedAt), RevokedBy: idmirror.Source(m.RevokedBy)})
		return nil
	})
	return out, err
}

// PutPoolConfig records an observation of the pool's configuration.
func (s *Store) PutPoolConfig(ctx context.Context, cfg idmirror.PoolConfig, at time.Time, src idmirror.Source) (Outcome, error) {
	return putSimple(ctx, s, simple[idmirror.PoolConfig]{
		kind: "config", pool: cfg.PoolID, key: "config", pk: configPK(cfg.PoolID),
		state: cfg, fields: idmirror.PoolConfig.Fields, at: at, source: src,
	})
}

// PoolConfig returns the pool's configuration as last mirrored.
func (s *Store) PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, Meta, error) {
	it, err := getState[idmirror.PoolConfig](ctx, s, configPK(pool))
	if err != nil {
		return idmirror.PoolConfig{}, Meta{}, err
	}
	if it == nil {
		return idmirror.PoolConfig{}, Meta{}, fmt.Errorf("configuration of pool %s: %w", pool, idmirror.ErrNotFound)
	}
	return it.State, it.meta(), nil
}

// PutRoleMap records the role map in force for the pool.
func (s *Store) PutRoleMap(ctx context.Context, pool string, m idmirror.RoleMap, at time.Time, src idmirror.Source) (Outcome, error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	return putSimple(ctx, s, simple[idmirror.RoleMap]{
		kind: "rolemap", pool: pool, key: "rolemap", pk: roleMapPK(pool),
		state: m, fields: roleMapFields, at: at, source: src,
	})
}

// RoleMapAsOf returns the role map in force for the pool at t (zero t: now).
func (s *Store) RoleMapAsOf(ctx context.Context, pool string, t time.Time) (idmirror.RoleMap, error) {
	if t.IsZero() {
		t = time.Now()
	}
	return stateAsOf[idmirror.RoleMap](ctx, s, roleMapPK(pool), "role map of pool "+pool, t)
}

func roleMapFields(m idmirror.RoleMap) map[string]string {
	f := map[string]string{}
	var order []string
	for _, r := range m.Roles {
		order = append(order, r.Name)
		f["role:"+r.Name] = "groups=" + strings.Join(r.Groups, ",") + ";scopes=" + strings.Join(r.Scopes, ",")
	}
	f["order"] = strings.Join(order, ",")
	return f
}
