package mirror_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// The configuration fields recorded since issue 16 (what pool create needs)
// survive the table; without them an item reads back as before.
func TestPoolConfigRoundTripsTheNewFields(t *testing.T) {
	db := testenv.DynamoDB(t)
	s := mirror.New(db, testenv.NewTable(t, db), zaptest.NewLogger(t))
	ctx := context.Background()
	no := false
	cfg := idmirror.PoolConfig{PoolID: "us-east-1_cfg", Name: "n", MFA: "OPTIONAL", CaseSensitive: &no, AccountRecovery: []string{"verified_email"},
		PasswordPolicy: &idmirror.PasswordPolicy{MinLength: 12, RequireUppercase: true, RequireSymbols: true, TemporaryPasswordValidityDays: 3, PasswordHistorySize: 5},
		AutoVerified:   []string{"email"}, SMSRoleArn: "arn:aws:iam::123456789012:role/sms", SMSExternalID: "x", SMSRegion: "eu-west-1",
		DeletionProtection: "ACTIVE", Tier: "ESSENTIALS"}
	if _, err := s.PutPoolConfig(ctx, cfg, time.Now(), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.PoolConfig(ctx, cfg.PoolID)
	if err != nil || fmt.Sprint(got.Fields()) != fmt.Sprint(cfg.Fields()) || *got.PasswordPolicy != *cfg.PasswordPolicy {
		t.Fatalf("read back %v (%v)\nwant %v", got.Fields(), err, cfg.Fields())
	}
	old := idmirror.PoolConfig{PoolID: "us-east-1_old", MFA: "OFF"}
	if _, err := s.PutPoolConfig(ctx, old, time.Now(), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.PoolConfig(ctx, old.PoolID); err != nil || got.PasswordPolicy != nil || fmt.Sprint(got.Fields()) != fmt.Sprint(old.Fields()) {
		t.Fatalf("old shape read back %+v %v", got, err)
	}
}
