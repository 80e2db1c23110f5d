package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

// Attribute names of the table's keys and index keys. docs/mirror-table.md
// describes each; the deploy template must declare exactly these.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrUnamePK = "unamePK" // GSI byUsername: <pool>#<username>        (user state items)
	attrEmailPK = "emailPK" // GSI byEmail:    <pool>#<lower(email)>    (user state items)
	attrPoolPK  = "poolPK"  // GSI byPool:     <pool>#U#<shard> | <pool>#G (state items)
	attrPoolSK  = "poolSK"  //                 sub | group name
	attrDayPK   = "dayPK"   // GSI byDay:      <pool>#<YYYY-MM-DD>#<shard> (history items)
	attrDaySK   = "daySK"   //                 <observedAt>#<entity pk>
)

// Index names.
const (
	IndexByUsername = "byUsername"
	IndexByEmail    = "byEmail"
	IndexByPool     = "byPool"
	IndexByDay      = "byDay"
)

// Shard counts. They are part of the keys: changing one needs a migration.
const (
	userShards = 16 // byPool partitions of a pool's users: the unit of parallel export
	dayShards  = 8  // byDay partitions of a day's changes: spreads a bulk run's writes
)

// TableDefinition is the one definition of the mirror table: keys, attribute
// types and indexes. `idmirror table create` uses it, and the deploy
// template's table is tested against it.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	gsi := func(name, hash, rng string) types.GlobalSecondaryIndex {
		ks := []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}}
		if rng != "" {
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange})
		}
		return types.GlobalSecondaryIndex{
			IndexName:  aws.String(name),
			KeySchema:  ks,
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			s(attrPK), s(attrSK), s(attrUnamePK), s(attrEmailPK), s(attrPoolPK), s(attrPoolSK), s(attrDayPK), s(attrDaySK),
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi(IndexByUsername, attrUnamePK, ""),
			gsi(IndexByEmail, attrEmailPK, ""),
			gsi(IndexByPool, attrPoolPK, attrPoolSK),
			gsi(IndexByDay, attrDayPK, attrDaySK),
		},
		SSESpecification: &types.SSESpecification{Enabled: aws.Bool(true)},
	}
}

// CreateTable creates the mirror table and waits until it is active. An
// existing table with that name is an error wrapping ErrExists.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.CreateTable(ctx, TableDefinition(name))
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, idmirror.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(db)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	return nil
}

// NewClient returns the DynamoDB client the mirror uses, from the SDK's
// standard configuration. It skips the CRC32 check of response bodies:
// DynamoDB Local sends checksums that do not match its error bodies (the SDK
// then logs a warning per call), and TLS already protects responses in AWS.
// It tries each call up to 5 times (the SDK's default is 3): a long sync or
// restore should ride out a dropped connection.
func NewClient(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.DisableValidateResponseChecksum = true
		o.RetryMaxAttempts = 5
	})
}
