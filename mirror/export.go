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
	"github.com/idmirror/idmirror/internal/workers"
)

// ExportUsers streams every user of the pool, tombstones included, page by
// page: the pool's users are spread over 16 shards of the byPool index, read
// by opts.Segments goroutines. fn is called from several goroutines at once.
// Memory is bounded by the segments' pages, not by the pool's size.
func (s *Store) ExportUsers(ctx context.Context, pool string, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error {
	n := opts.Segments
	if n <= 0 {
		n = 4
	}
	return workers.Run(ctx, min(n, userShards), func(ctx context.Context, emit func(int) error) error {
		for shard := range userShards {
			if err := emit(shard); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, shard int) error {
		return s.exportShard(ctx, pool, shard, opts, fn)
	})
}

func (s *Store) exportShard(ctx context.Context, pool string, shard int, opts idmirror.ExportOptions, fn func(idmirror.UserRecord) error) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexByPool),
		KeyConditionExpression:    aws.String("poolPK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: poolUserKey(pool, shard)}},
	}
	if opts.PageSize > 0 {
		in.Limit = aws.Int32(opts.PageSize)
	}
	return s.query(ctx, in, func(item map[string]types.AttributeValue) error {
		var it userState
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return fmt.Errorf("decode user: %w", err)
		}
		rec := userRecord(&it)
		if !opts.AsOf.IsZero() {
			u, err := s.UserAsOf(ctx, pool, it.Key, opts.AsOf)
			if errors.Is(err, idmirror.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			rec = idmirror.UserRecord{User: u}
		}
		return fn(rec)
	})
}

// Scan reads the whole table in parallel segments (every pool, every item
// kind) and calls fn with each raw item: the bulk export, the one place
// the mirror scans. fn is called from several goroutines at once.
func (s *Store) Scan(ctx context.Context, segments int, fn func(map[string]types.AttributeValue) error) error {
	return s.scan(ctx, segments, false, fn)
}

// scan is Scan, with strongly consistent reads when consistent is set.
func (s *Store) scan(ctx context.Context, segments int, consistent bool, fn func(map[string]types.AttributeValue) error) error {
	if segments <= 0 {
		segments = 4
	}
	errs := make(chan error, segments)
	for seg := range segments {
		go func() {
			p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
				TableName: aws.String(s.table), Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(int32(segments)),
				ConsistentRead: aws.Bool(consistent),
			})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					errs <- fmt.Errorf("scan segment %d: %w", seg, err)
					return
				}
				for _, item := range page.Items {
					if err := fn(item); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	return firstError(errs, segments)
}

// firstError waits for n results and returns the first real error: a
// segment cancelled because another failed reports the other's error.
func firstError(errs <-chan error, n int) error {
	var first error
	for range n {
		err := <-errs
		if err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	return first
}
