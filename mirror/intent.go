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

// Intent is restore's record of a user it creates in a target pool, written
// before AdminCreateUser and completed as the creation goes on. It is what
// lets a later run recognise an account restore made even when the run died
// before it could record the restored user (its origin link), or when
// Cognito's answer to AdminCreateUser was lost: an account created after the
// intent, holding exactly the attributes restore sent, in a pool where only
// administrators create users. Only restore writes intents; nothing deletes
// them (the mirror never hard-deletes).
type Intent struct {
	Pool     string // the target pool
	Username string // the name restore creates the user under (its username, or the email or phone it signs in with)
	// Origin is the mirrored identity restored: "<source pool>/<old sub>".
	Origin string
	// Attributes are exactly the attributes restore sends to AdminCreateUser.
	Attributes map[string]string
	// At is when the intent was recorded (restore's clock), before AdminCreateUser.
	At time.Time
	// Sub and Modified come from AdminCreateUser's answer: the new sub and
	// the user's UserLastModifiedDate as created (zero until it answered).
	Sub      string
	Modified time.Time
	// Reset says the run that created the user was to reset its password
	// (--password-mode reset): only then may a later run finish the reset.
	Reset bool
	// ResetAt is when restore began to give the user a random password and
	// reset it (--password-mode reset; zero: not begun), and PasswordModified
	// the user's UserLastModifiedDate right after the random password was set:
	// while the user still shows it, nobody has signed in or reset since.
	ResetAt          time.Time
	PasswordModified time.Time
}

// intentItem is the stored shape of an Intent (docs/mirror-table.md).
type intentItem struct {
	PK               string            `dynamodbav:"pk"`
	SK               string            `dynamodbav:"sk"`
	Kind             string            `dynamodbav:"kind"`
	Pool             string            `dynamodbav:"pool"`
	Username         string            `dynamodbav:"username"`
	Origin           string            `dynamodbav:"origin"`
	Attributes       map[string]string `dynamodbav:"attributes,omitempty"`
	At               string            `dynamodbav:"at"`
	Sub              string            `dynamodbav:"sub,omitempty"`
	Modified         string            `dynamodbav:"modified,omitempty"`
	Reset            bool              `dynamodbav:"reset,omitempty"`
	ResetAt          string            `dynamodbav:"resetAt,omitempty"`
	PasswordModified string            `dynamodbav:"passwordModified,omitempty"`
	WrittenAt        string            `dynamodbav:"writtenAt"`
}

func intentPK(pool, username string) string { return "P#" + pool + "#INTENT#" + username }

// PutIntent records (or replaces) restore's intent for a username of a pool.
func (s *Store) PutIntent(ctx context.Context, in Intent) error {
	switch {
	case in.Pool == "" || in.Username == "":
		return fmt.Errorf("%w: intent: missing pool or username", idmirror.ErrInvalid)
	case in.Origin == "":
		return fmt.Errorf("%w: intent: missing origin", idmirror.ErrInvalid)
	case in.At.IsZero():
		return fmt.Errorf("%w: intent: missing time", idmirror.ErrInvalid)
	}
	av, err := attributevalue.MarshalMap(intentItem{
		PK: intentPK(in.Pool, in.Username), SK: skState, Kind: "intent", Pool: in.Pool, Username: in.Username,
		Origin: in.Origin, Attributes: in.Attributes, At: fmtTime(in.At), Sub: in.Sub, Modified: fmtTime(in.Modified), Reset: in.Reset,
		ResetAt: fmtTime(in.ResetAt), PasswordModified: fmtTime(in.PasswordModified), WrittenAt: fmtTime(time.Now()),
	})
	if err != nil {
		return fmt.Errorf("encode intent: %w", err)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: av}},
	}})
	if err != nil {
		return fmt.Errorf("put intent %s in %s: %w", in.Username, in.Pool, err)
	}
	return nil
}

// Intent returns restore's intent for a username of a pool (ErrNotFound if
// none was recorded), read consistently.
func (s *Store) Intent(ctx context.Context, pool, username string) (Intent, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(intentPK(pool, username), skState), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Intent{}, fmt.Errorf("get intent %s in %s: %w", username, pool, err)
	}
	if out.Item == nil {
		return Intent{}, fmt.Errorf("intent %s in %s: %w", username, pool, idmirror.ErrNotFound)
	}
	var it intentItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Intent{}, fmt.Errorf("decode intent %s in %s: %w", username, pool, err)
	}
	return Intent{Pool: it.Pool, Username: it.Username, Origin: it.Origin, Attributes: it.Attributes, At: parseTime(it.At),
		Sub: it.Sub, Modified: parseTime(it.Modified), Reset: it.Reset, ResetAt: parseTime(it.ResetAt), PasswordModified: parseTime(it.PasswordModified)}, nil
}
