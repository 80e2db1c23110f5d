package mirror_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden-items.json")

// TestGoldenItems pins the stored encoding byte for byte: existing tables, the
// PartiQL in docs/auditing.md and the late-observation patch read these names.
// The writes go to a recording fake of the DynamoDB API (no emulator), which
// keeps Put items so later writes see them, and answers the store's two Query
// shapes (as-of and the later-history patch) from them.
func TestGoldenItems(t *testing.T) {
	db := &recorder{items: map[string]map[string]types.AttributeValue{}}
	s := mirror.New(db, "golden", nil)
	mirror.SetClock(s, func() time.Time { return at(10) })
	ctx := context.Background()
	u := alice("pool-g")
	u.MFA = idmirror.MFA{SMSEnabled: true, Preferred: "SMS_MFA"}
	u.Created, u.Modified = at(-60), at(-1)
	steps := []func() error{
		func() error {
			_, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceTrigger, SourceTime: at(0), Note: "first"})
			return err
		},
		func() error {
			v := u
			v.Groups = []string{"operators"}
			_, err := s.PutUser(ctx, idmirror.UserWrite{User: v, Fields: idmirror.FieldGroups, At: at(3), Source: idmirror.SourceSync})
			return err
		},
		func() error { // late: observed before the groups change above
			v := u
			v.Attributes = map[string]string{"email": "alice@new.example", "custom:tenant": "t2"}
			_, err := s.PutUser(ctx, idmirror.UserWrite{User: v, Fields: idmirror.FieldAttributes, At: at(2), Source: idmirror.SourceEvent})
			return err
		},
		func() error {
			_, err := s.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: "pool-g", Sub: u.Sub, Origin: "pool-old/sub-old"}, Fields: idmirror.FieldOrigin, At: at(4), Source: idmirror.SourceRestore})
			return err
		},
		func() error {
			_, err := s.PutUser(ctx, idmirror.UserWrite{User: idmirror.User{PoolID: "pool-g", Sub: u.Sub}, Delete: true, At: at(5), Source: idmirror.SourceSync})
			return err
		},
		func() error {
			p := int32(1)
			_, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: "pool-g", Name: "admins", Description: "Admins", Precedence: &p, RoleArn: "arn:aws:iam::123456789012:role/admin"}, At: at(1), Source: idmirror.SourceSync})
			return err
		},
		func() error {
			_, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: "pool-g", Name: "admins"}, Delete: true, At: at(6), Source: idmirror.SourceEvent})
			return err
		},
		func() error {
			_, err := s.PutPoolConfig(ctx, idmirror.PoolConfig{PoolID: "pool-g", Name: "staff", MFA: "OPTIONAL",
				UsernameAttributes: []string{"email"}, AliasAttributes: []string{"phone_number"},
				Schema: []idmirror.SchemaAttribute{{Name: "custom:tenant", DataType: "String", Mutable: true}, {Name: "email", DataType: "String", Mutable: true, Required: true}}},
				at(1), idmirror.SourceSync)
			return err
		},
		func() error {
			_, err := s.PutRoleMap(ctx, "pool-g", idmirror.DefaultRoleMap(), at(1), idmirror.SourceSync)
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, err := json.MarshalIndent(db.log, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden-items.json")
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./mirror -run TestGoldenItems -update-golden once, then review the file)", err)
	}
	if string(got) != string(want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("stored encoding changed at line %d of %s:\n got: %s\nwant: %s", i+1, path, gl[i], wl[i])
			}
		}
		t.Fatalf("stored encoding changed: %d lines, want %d", len(gl), len(wl))
	}
}

// recorder is a fake of mirror.API that logs every write as plain JSON.
type recorder struct {
	items map[string]map[string]types.AttributeValue // pk + "\x00" + sk
	log   []any
}

func itemKey(item map[string]types.AttributeValue) string {
	return item["pk"].(*types.AttributeValueMemberS).Value + "\x00" + item["sk"].(*types.AttributeValueMemberS).Value
}

func (r *recorder) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: r.items[itemKey(in.Key)]}, nil
}

// Query answers "pk = :pk AND sk BETWEEN <lo> AND <hi>" from the kept items.
func (r *recorder) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if in.IndexName != nil {
		return &dynamodb.QueryOutput{}, nil
	}
	str := func(k string) string {
		if v, ok := in.ExpressionAttributeValues[k].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	pk := str(":pk")
	lo, hi := str(":lo")+str(":after"), str(":hi")+str(":last")
	var keys []string
	for k := range r.items {
		p, sk, _ := strings.Cut(k, "\x00")
		if p == pk && sk >= lo && sk <= hi {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if in.ScanIndexForward != nil && !*in.ScanIndexForward {
		sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	}
	if in.Limit != nil && len(keys) > int(*in.Limit) {
		keys = keys[:*in.Limit]
	}
	out := &dynamodb.QueryOutput{}
	for _, k := range keys {
		out.Items = append(out.Items, r.items[k])
	}
	return out, nil
}

func (r *recorder) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, fmt.Errorf("UpdateItem: not expected")
}

func (r *recorder) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, fmt.Errorf("PutItem: not expected")
}

func (r *recorder) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return &dynamodb.ScanOutput{}, nil
}

func (r *recorder) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	var tx []any
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			item := map[string]types.AttributeValue{}
			for k, v := range it.Put.Item {
				item[k] = v
			}
			item["writtenAt"] = &types.AttributeValueMemberS{Value: "<now>"}
			r.items[itemKey(item)] = item
			tx = append(tx, map[string]any{"put": plain(&types.AttributeValueMemberM{Value: item}), "condition": aws.ToString(it.Put.ConditionExpression),
				"values": plainMap(it.Put.ExpressionAttributeValues)})
		case it.Update != nil:
			tx = append(tx, map[string]any{"update": plainMap(it.Update.Key), "expression": aws.ToString(it.Update.UpdateExpression),
				"names": it.Update.ExpressionAttributeNames, "values": plainMap(it.Update.ExpressionAttributeValues)})
		}
	}
	r.log = append(r.log, tx)
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func plainMap(m map[string]types.AttributeValue) map[string]any {
	if m == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

// plain renders an attribute value as DynamoDB's JSON (map keys sorted by encoding/json).
func plain(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": plainMap(v.Value)}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = plain(e)
		}
		return map[string]any{"L": l}
	}
	return fmt.Sprintf("%T", v)
}
