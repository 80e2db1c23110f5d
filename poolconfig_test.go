package idmirror_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/idmirror/idmirror"
)

// A configuration recorded before issue 16 flattens exactly as it did: the
// fields added since are left out while unset.
func TestPoolConfigRecordedBeforeFlattensAsBefore(t *testing.T) {
	old := `{"pool_id":"p","name":"n","schema":[{"name":"custom:tenant","type":"String","mutable":true}],"mfa":"OFF","admin_create_only":true,"case_sensitive":false,"account_recovery":["verified_email"]}`
	var cfg idmirror.PoolConfig
	if err := json.Unmarshal([]byte(old), &cfg); err != nil {
		t.Fatal(err)
	}
	want := "map[account_recovery:verified_email admin_create_only:true case_sensitive:false mfa:OFF name:n schema:custom:tenant:String:true:false]"
	if got := fmt.Sprint(cfg.Fields()); got != want {
		t.Fatalf("flattened\n%s\nwant\n%s", got, want)
	}
	cfg.PasswordPolicy = &idmirror.PasswordPolicy{MinLength: 8}
	cfg.AutoVerified, cfg.SMSRoleArn, cfg.Tier = []string{"email"}, "arn:aws:iam::1:role/s", "ESSENTIALS"
	f := cfg.Fields()
	for _, k := range []string{"password_policy", "auto_verified", "sms_role_arn", "tier"} {
		if f[k] == "" {
			t.Fatalf("%s not flattened: %v", k, f)
		}
	}
}
