package mirror_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/security"
)

// loseAnswer commits a transaction and then reports a transport error, as a
// lost response (timeout, connection reset) after DynamoDB committed does.
type loseAnswer struct {
	mirror.API
	lose bool
}

func (l *loseAnswer) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := l.API.TransactWriteItems(ctx, in, o...)
	if err == nil && l.lose {
		l.lose = false
		return nil, errors.New("read tcp: connection reset by peer")
	}
	return out, err
}

// Review A #4: a committed grant whose answer is lost is an error to the
// caller, whose retry finds the grant recorded and changes nothing: the
// observer must have heard of the write whose answer was lost, or no
// role_granted is ever raised for it.
func TestReviewA_GrantWithLostAnswerIsNeverRaised(t *testing.T) {
	db := testenv.DynamoDB(t)
	api := &loseAnswer{API: db}
	s := mirror.New(api, testenv.NewTable(t, db), zaptest.NewLogger(t))
	var grants int
	s.Observe(func(a idmirror.Applied) {
		for _, ev := range security.FromApplied(a, idmirror.DefaultRoleMap()) {
			if ev.Kind == security.RoleGranted {
				grants++
			}
		}
	})
	ctx := context.Background()
	u := idmirror.User{PoolID: "p", Sub: "s1", Username: "u1", Enabled: true, Status: "CONFIRMED"}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceEvent}); err != nil {
		t.Fatal(err)
	}
	u.Groups = []string{"admins"}
	api.lose = true
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(2), Source: idmirror.SourceEvent}); err == nil {
		t.Fatal("the lost answer was not reported")
	}
	// The retry (a redelivered event re-reads Cognito later).
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(3), Source: idmirror.SourceEvent}); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.GetUser(ctx, "p", "s1")
	if len(rec.Groups) != 1 {
		t.Fatalf("groups = %v", rec.Groups)
	}
	if grants != 1 {
		t.Errorf("role_granted raised %d times for a committed admin grant, want 1", grants)
	}
}
