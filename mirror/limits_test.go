package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// dying fails every transaction after the first: the process died right
// after the transaction that recorded the state.
type dying struct {
	mirror.API
	n int
}

func (d *dying) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if d.n++; d.n > 1 {
		return nil, errors.New("killed")
	}
	return d.API.TransactWriteItems(ctx, in, opts...)
}

// Cognito's limits used here come from AWS's page "Quotas in Amazon Cognito"
// (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html):
// groups per user 100, custom attributes per pool 50; and a custom string
// attribute holds at most 2,048 characters (SchemaAttributeType,
// StringAttributeConstraints.MaxLength, in the Cognito API reference).
//
// A user in 100 groups (Cognito's maximum per user) is mirrored in full,
// though one transaction holds 100 items: the intervals that do not fit are
// recorded as pending on the state and written right after; if the writer
// dies in between, the next write of the user finishes them.
func TestUserInAHundredGroups(t *testing.T) {
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := mirror.New(db, table, nil)
	ctx := context.Background()
	u := alice("pool-100")
	u.Groups = nil
	for i := range 100 {
		u.Groups = append(u.Groups, fmt.Sprintf("g%03d", i))
	}
	w := idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync}
	if _, err := mirror.New(&dying{API: db}, table, nil).PutUser(ctx, w); err == nil {
		t.Fatal("a writer killed before its pending intervals were written must say so")
	}
	open := func() int {
		n := 0
		for _, g := range u.Groups {
			ms, err := s.Members(ctx, "pool-100", g, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			n += len(ms)
		}
		return n
	}
	if n := open(); n >= 100 || n == 0 {
		t.Fatalf("after the kill %d intervals open; want the transaction's share only", n)
	}
	// The same observation again (a retry) finds the state recorded, and finishes the intervals.
	if _, err := s.PutUser(ctx, w); err != nil {
		t.Fatal(err)
	}
	if n := open(); n != 100 {
		t.Fatalf("%d intervals open, want 100", n)
	}
	got, err := s.GetUser(ctx, "pool-100", u.Sub)
	if err != nil || len(got.Groups) != 100 || len(got.Memberships) != 100 {
		t.Fatalf("state: %d groups, %d memberships, %v", len(got.Groups), len(got.Memberships), err)
	}
	// Leaving all 100 at once closes every interval.
	u.Groups = nil
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(2), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	if n := open(); n != 0 {
		t.Fatalf("%d intervals still open after leaving every group", n)
	}
	if ms, _ := s.Members(ctx, "pool-100", "g042", at(1)); len(ms) != 1 {
		t.Fatalf("as of +1 the user was in g042: %v", ms)
	}
}

// The largest user Cognito allows — 50 custom attributes of 2,048 characters
// — is mirrored in full, and a change of all of them fits one history item.
func TestUserWithTheLargestAttributes(t *testing.T) {
	db := testenv.DynamoDB(t)
	s := mirror.New(db, testenv.NewTable(t, db), nil)
	ctx := context.Background()
	u := alice("pool-big")
	big := func(c byte) map[string]string {
		a := map[string]string{"email": "alice@example.com"}
		for i := range 50 {
			v := make([]byte, 2048)
			for j := range v {
				v[j] = c
			}
			a[fmt.Sprintf("custom:attribute%02d", i)] = string(v)
		}
		return a
	}
	u.Attributes = big('a')
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	u.Attributes = big('b')
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldAttributes, At: at(2), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	h, err := s.UserHistory(ctx, "pool-big", u.Sub)
	if err != nil || len(h) != 2 || len(h[1].Fields) != 50 || h[1].State.Attributes["custom:attribute49"][2047] != 'b' {
		t.Fatalf("history: %d items, %v", len(h), err)
	}
}
