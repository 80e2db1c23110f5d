package mirror_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// metering counts what the store's transactions write: items, bytes (as
// DynamoDB sizes items) and write capacity units (a transactional write
// costs 2 WCU per KB of each item: "Read/write capacity mode", DynamoDB
// developer guide, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
type metering struct {
	mirror.API
	items, bytes, wcu atomic.Int64
}

func (m *metering) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		var n int
		switch {
		case it.Put != nil:
			n = itemSize(it.Put.Item)
		case it.Update != nil:
			n = itemSize(it.Update.Key) + itemSize(it.Update.ExpressionAttributeValues) // a lower bound
		}
		m.items.Add(1)
		m.bytes.Add(int64(n))
		m.wcu.Add(2 * int64((n+1023)/1024))
	}
	return m.API.TransactWriteItems(ctx, in, opts...)
}

// itemSize approximates DynamoDB's item size: names and values in bytes,
// numbers (digits/2)+1, 3 bytes and 1 per element for maps and lists
// ("Item sizes and formats", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
func itemSize(m map[string]types.AttributeValue) int {
	n := 0
	for k, v := range m {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)/2 + 1
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + itemSize(v.Value)
	case *types.AttributeValueMemberL:
		n := 3 + len(v.Value)
		for _, e := range v.Value {
			n += valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	}
	return 0
}

// BenchmarkPutUser measures the mirror's write path on DynamoDB Local: a
// change of an existing user (state and history item) and a new user in one
// group (state, history item, membership interval), with the items, bytes
// and WCU each write's transaction carries.
//
//	IDMIRROR_REQUIRE_EMULATORS=1 go test -run XXX -bench PutUser -benchtime 300x ./mirror
func BenchmarkPutUser(b *testing.B) {
	db := testenv.DynamoDB(b)
	m := &metering{API: db}
	s := mirror.New(m, testenv.NewTable(b, db), nil)
	ctx := context.Background()
	base := time.Now()
	seq := 0 // across the runs of each sub-benchmark (-count)
	report := func(b *testing.B) {
		b.ReportMetric(float64(m.items.Load())/float64(b.N), "items/op")
		b.ReportMetric(float64(m.bytes.Load())/float64(b.N), "bytes/op")
		b.ReportMetric(float64(m.wcu.Load())/float64(b.N), "WCU/op")
	}
	b.Run("change", func(b *testing.B) {
		u := idmirror.User{PoolID: "p", Sub: "sub-bench", Username: "bench", Enabled: true, Status: "CONFIRMED",
			Attributes: map[string]string{"email": "bench@example.com", "custom:tenant": "t1"}, Groups: []string{"staff"}}
		seq++
		if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: base.Add(time.Duration(seq) * time.Millisecond), Source: idmirror.SourceSync}); err != nil {
			b.Fatal(err)
		}
		m.items.Store(0)
		m.bytes.Store(0)
		m.wcu.Store(0)
		for b.Loop() {
			seq++
			u.Attributes = map[string]string{"email": "bench@example.com", "custom:tenant": fmt.Sprint(seq)}
			if o, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes, At: base.Add(time.Duration(seq) * time.Millisecond), Source: idmirror.SourceEvent}); err != nil || o != idmirror.Changed {
				b.Fatal(o, err)
			}
		}
		report(b)
	})
	b.Run("new-user-in-a-group", func(b *testing.B) {
		m.items.Store(0)
		m.bytes.Store(0)
		m.wcu.Store(0)
		for b.Loop() {
			seq++
			u := idmirror.User{PoolID: "p", Sub: fmt.Sprintf("sub-%d", seq), Username: fmt.Sprintf("user%d", seq), Enabled: true, Status: "CONFIRMED",
				Attributes: map[string]string{"email": fmt.Sprintf("u%d@example.com", seq)}, Groups: []string{"staff"}}
			if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: base, Source: idmirror.SourceSync}); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// BenchmarkPutUserClientSide is the same change without DynamoDB (the
// golden test's in-memory fake of the API): the store's own CPU and
// allocations per write, hashing and journal included.
//
//	go test -run XXX -bench PutUserClientSide -benchmem ./mirror
func BenchmarkPutUserClientSide(b *testing.B) {
	db := &recorder{items: map[string]map[string]types.AttributeValue{}}
	s := mirror.New(db, "bench", nil)
	ctx := context.Background()
	base := time.Now()
	u := idmirror.User{PoolID: "p", Sub: "sub-bench", Username: "bench", Enabled: true, Status: "CONFIRMED",
		Attributes: map[string]string{"email": "bench@example.com", "custom:tenant": "t1"}, Groups: []string{"staff"}}
	seq := 0
	for b.Loop() {
		seq++
		u.Attributes = map[string]string{"email": "bench@example.com", "custom:tenant": fmt.Sprint(seq)}
		if o, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes, At: base.Add(time.Duration(seq) * time.Millisecond), Source: idmirror.SourceEvent}); err != nil || o == idmirror.Stale {
			b.Fatal(o, err)
		}
		db.log = db.log[:0]
	}
}
