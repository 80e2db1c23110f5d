package triggers_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/security"
	"github.com/idmirror/idmirror/triggers"
)

// The warm path as the Lambda runtime drives it: raw event bytes in, answer bytes out.
func benchmarkPreToken(b *testing.B, file string) {
	runPreToken(b, newPreToken(b), file, nil)
}

func runPreToken(b *testing.B, h *triggers.PreToken, file string, wantErr error) {
	lh := lambda.NewHandler(h)
	ev := golden(b, file)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lh.Invoke(ctx, ev); !errors.Is(err, wantErr) {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreTokenV1(b *testing.B)       { benchmarkPreToken(b, "pretoken-v1.json") }
func BenchmarkPreTokenV2(b *testing.B)       { benchmarkPreToken(b, "pretoken-v2.json") }
func BenchmarkPreTokenOutsider(b *testing.B) { benchmarkPreToken(b, "pretoken-v2-outsider.json") }

// The same with a business-hours policy on: within hours (the common case),
// and outside with each action. Security events go where they go in Lambda:
// a JSON log line and an EMF line (here to io.Discard).
func benchmarkPreTokenHours(b *testing.B, file, rules string, now time.Time, wantErr error) {
	js := `{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri"],"start":"08:00","end":"19:00",` +
		`"holidays":["2026-05-01","2026-05-08","2026-12-25"],"roles":` + rules +
		`,"groupIamRoles":{"admins":"` + adminArn + `","operators":"` + operatorArn + `"}}`
	p, err := triggers.ParseAccessHours([]byte(js), idmirror.DefaultRoleMap())
	if err != nil {
		b.Fatal(err)
	}
	h, err := triggers.NewPreToken(idmirror.DefaultRoleMap(), zap.NewNop(), triggers.PreTokenOptions{
		Hours: p, Security: security.New(discardLogger(), io.Discard, "pre-token"), Now: func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	runPreToken(b, h, file, wantErr)
}

// discardLogger encodes as the Lambda mains' logger does (JSON, info), into io.Discard.
func discardLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(io.Discard), zapcore.InfoLevel)).
		With(zap.String("function", "pretoken"))
}

const benchRules = `{"admin":{"outside":"downgrade","floor":"operator"},"operator":{"outside":"alert"}}`

func BenchmarkPreTokenHoursWithinV1(b *testing.B) {
	benchmarkPreTokenHours(b, "pretoken-v1.json", benchRules, monNoon, nil)
}
func BenchmarkPreTokenHoursWithinV2(b *testing.B) {
	benchmarkPreTokenHours(b, "pretoken-v2.json", benchRules, monNoon, nil)
}
func BenchmarkPreTokenHoursAlertV2(b *testing.B) {
	benchmarkPreTokenHours(b, "pretoken-v2.json", benchRules, monNight, nil)
}
func BenchmarkPreTokenHoursDowngradeV1(b *testing.B) {
	benchmarkPreTokenHours(b, "pretoken-v1.json", benchRules, monNight, nil)
}
func BenchmarkPreTokenHoursDowngradeV2IAM(b *testing.B) {
	benchmarkPreTokenHours(b, "pretoken-v2-iam-roles.json", benchRules, monNight, nil)
}
func BenchmarkPreTokenHoursDenyV1(b *testing.B) {
	benchmarkPreTokenHours(b, "pretoken-v1.json", `{"admin":{"outside":"deny"}}`, monNight, triggers.ErrOutsideHours)
}

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

func BenchmarkPreTokenV2IAMRoles(b *testing.B) { benchmarkPreToken(b, "pretoken-v2-iam-roles.json") }
