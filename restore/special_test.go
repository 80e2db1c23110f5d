package restore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// Users restore cannot bring back as they were are reported, not failed:
// federated and unconfirmed users are skipped, TOTP users restored with a
// note; an SMS MFA preference is restored.
func TestRestoreReportsWhatItCannotRestore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := testenv.Name("eu-west-1_SRC")
	e.source.ID = src
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for _, u := range []idmirror.User{
		{Username: "fed", Status: "EXTERNAL_PROVIDER", Attributes: map[string]string{"email": "fed@example.com"}},
		{Username: "new", Status: "UNCONFIRMED", Attributes: map[string]string{"email": "new@example.com"}},
		{Username: "tom", Status: "CONFIRMED", MFA: idmirror.MFA{TOTPEnabled: true, Preferred: "SOFTWARE_TOKEN_MFA"}, Attributes: map[string]string{"email": "tom@example.com"}},
		{Username: "sam", Status: "CONFIRMED", MFA: idmirror.MFA{SMSEnabled: true, Preferred: "SMS_MFA"},
			Attributes: map[string]string{"email": "sam@example.com", "phone_number": "+15555550123", "phone_number_verified": "true"}},
	} {
		u.PoolID, u.Sub, u.Enabled = src, "sub-"+u.Username, true
		if _, err := e.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync}); err != nil {
			t.Fatal(err)
		}
	}
	target := e.target()
	rep, results := e.run(target.ID, restore.Options{})
	got := map[string]restore.UserResult{}
	for _, r := range results {
		got[r.Username] = r
	}
	if got["fed"].Action != restore.Skip || !strings.Contains(strings.Join(got["fed"].Notes, " "), "federated") {
		t.Errorf("federated: %+v", got["fed"])
	}
	if got["new"].Action != restore.Skip || !strings.Contains(strings.Join(got["new"].Notes, " "), "UNCONFIRMED") {
		t.Errorf("unconfirmed: %+v", got["new"])
	}
	if got["tom"].Action != restore.Create || !strings.Contains(strings.Join(got["tom"].Notes, " "), "TOTP") {
		t.Errorf("TOTP: %+v", got["tom"])
	}
	if rep.Counts[restore.Failed] != 0 || rep.Counts[restore.Skip] != 2 {
		t.Fatalf("counts %v", rep.Counts)
	}
	// The SMS preference, read through the proxy (cognito-local lacks the call).
	sam, err := e.adapt.GetUser(ctx, target.ID, "sam")
	if err != nil || !sam.MFA.SMSEnabled || sam.MFA.Preferred != "SMS_MFA" {
		t.Fatalf("sam's MFA after restore: %+v %v", sam.MFA, err)
	}
	if rep, _ := e.run(target.ID, restore.Options{}); rep.Counts[restore.InPlace] != 2 || rep.Counts[restore.Skip] != 2 {
		t.Fatalf("second run: %v", rep.Counts)
	}
}
