package triggers_test

import (
	"context"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/triggers"
)

// The warm path as the Lambda runtime drives it: raw event bytes in, answer bytes out.
func benchmarkPreToken(b *testing.B, file string) {
	h := lambda.NewHandler(newPreToken(b))
	ev := golden(b, file)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreTokenV1(b *testing.B)       { benchmarkPreToken(b, "pretoken-v1.json") }
func BenchmarkPreTokenV2(b *testing.B)       { benchmarkPreToken(b, "pretoken-v2.json") }
func BenchmarkPreTokenOutsider(b *testing.B) { benchmarkPreToken(b, "pretoken-v2-outsider.json") }

type nopStore struct{}

func (nopStore) PutUser(context.Context, idmirror.UserWrite) (idmirror.Outcome, error) {
	return idmirror.Changed, nil
}

// The handler's own cost, without the DynamoDB round trip (measured apart:
// about a millisecond per transaction against DynamoDB Local).
func BenchmarkPostConfirmation(b *testing.B) {
	h := lambda.NewHandler(triggers.NewPostConfirmation(nopStore{}, nil, triggers.PostConfirmationOptions{Metrics: io.Discard}))
	ev := golden(b, "postconfirmation-signup.json")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
