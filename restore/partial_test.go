package restore_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// mirrorOnly points the env at a source pool that exists only in the mirror,
// with the groups given, and returns a writer of its users.
func (e *env) mirrorOnly(groups ...string) func(u idmirror.User) {
	e.t.Helper()
	ctx := context.Background()
	e.source.ID = testenv.Name("eu-west-1_SRC")
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := e.store.PutPoolConfig(ctx, idmirror.PoolConfig{PoolID: e.source.ID}, at, idmirror.SourceSync); err != nil {
		e.t.Fatal(err)
	}
	for _, g := range groups {
		if _, err := e.store.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: e.source.ID, Name: g}, At: at, Source: idmirror.SourceSync}); err != nil {
			e.t.Fatal(err)
		}
	}
	return func(u idmirror.User) {
		e.t.Helper()
		u.PoolID = e.source.ID
		if u.Sub == "" {
			u.Sub = "sub-" + u.Username
		}
		if _, err := e.store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// A federated admin is not skipped whole: restore cannot create the account
// (Cognito does, at the user's first sign-in through the identity provider),
// so it reports what to do; once the user has signed in, a re-run links the
// account by its identity-provider identity and brings back its groups.
//
// cognito-local has no identity providers: the account a sign-in would make
// is stood in for by one created straight in cognito-local with the
// identities attribute Cognito would give it. That federation itself works
// is untested end to end.
func TestFederatedUserComesBackAfterSignIn(t *testing.T) {
	e := newEnv(t)
	put := e.mirrorOnly("admins")
	ids := `[{"userId":"1234","providerName":"Google","providerType":"Google","issuer":null,"primary":true,"dateCreated":1767225600000}]`
	put(idmirror.User{Username: "Google_1234", Status: "EXTERNAL_PROVIDER", Enabled: true, Groups: []string{"admins"},
		Attributes: map[string]string{"email": "fed@example.com", "identities": ids}})
	target := e.target()
	_, results := e.run(target.ID, restore.Options{})
	if f := byName(results)["Google_1234"]; f.Action != restore.Skip || !strings.Contains(strings.Join(f.Notes, " "), "--user Google_1234") {
		t.Fatalf("before the sign-in: %+v", f)
	}
	// The user signs in through Google: Cognito makes the account (stand-in).
	ctx := context.Background()
	if _, err := e.direct.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(target.ID), Username: aws.String("Google_1234"),
		MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs("email", "fed@example.com", "identities", ids)}); err != nil {
		t.Fatal(err)
	}
	_, results = e.run(target.ID, restore.Options{Users: []string{"Google_1234"}})
	if f := byName(results)["Google_1234"]; f.Action != restore.Update {
		t.Fatalf("after the sign-in: %+v", f)
	}
	if gs := e.groupsOf(target.ID, "Google_1234"); len(gs) != 1 || gs[0] != "admins" {
		t.Fatalf("the federated admin's groups: %v", gs)
	}
	// Someone else's identity under that username is not the user.
	other := e.target()
	if _, err := e.direct.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(other.ID), Username: aws.String("Google_1234"),
		MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs("identities", `[{"userId":"9999","providerName":"Google"}]`)}); err != nil {
		t.Fatal(err)
	}
	if _, results = e.run(other.ID, restore.Options{}); byName(results)["Google_1234"].Action != restore.Conflict {
		t.Fatalf("another identity: %+v", byName(results)["Google_1234"])
	}
}

// A native user once linked to an identity provider comes back without the
// link: Cognito does not take `identities` from AdminCreateUser (the fidelity
// proxy refuses it as Cognito does); the note says to link it again.
func TestIdentitiesAreNotSentToAdminCreateUser(t *testing.T) {
	e := newEnv(t)
	put := e.mirrorOnly()
	put(idmirror.User{Username: "ann", Status: "CONFIRMED", Enabled: true,
		Attributes: map[string]string{"email": "ann@example.com", "identities": `[{"userId":"77","providerName":"Okta"}]`}})
	_, results := e.run(e.target().ID, restore.Options{})
	if a := byName(results)["ann"]; a.Action != restore.Create || !strings.Contains(strings.Join(a.Notes, " "), "AdminLinkProviderForUser") {
		t.Fatalf("linked native user: %+v", a)
	}
}

// Pools that sign in with an email or a phone number: users with only a
// phone number are restored too.
func TestEmailOrPhonePool(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	both := []poolOpt{signInWith(types.UsernameAttributeTypeEmail, types.UsernameAttributeTypePhoneNumber)}
	e.source = newTarget(t, e.direct, both)
	// cognito-local takes only an email there; the proxy takes a phone, as Cognito does.
	proxied := testenv.CognitoAt(t, testenv.Proxy(t, 0))
	for _, c := range []struct{ name, email, phone string }{
		{"a@example.com", "a@example.com", ""}, {"+15555550101", "", "+15555550101"}, {"b@example.com", "b@example.com", "+15555550102"},
	} {
		var attrs []string
		if c.email != "" {
			attrs = append(attrs, "email", c.email)
		}
		if c.phone != "" {
			attrs = append(attrs, "phone_number", c.phone)
		}
		if _, err := proxied.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(e.source.ID), Username: aws.String(c.name),
			MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs(attrs...)}); err != nil {
			t.Fatalf("seed %s: %v", c.name, err)
		}
	}
	e.mirrorSource()
	target := e.target(both...)
	rep, results := e.run(target.ID, restore.Options{})
	if rep.Counts[restore.Create] != 3 || rep.Counts[restore.Failed] != 0 {
		t.Fatalf("counts %v: %+v", rep.Counts, results)
	}
	contacts := func(pool string) string {
		out, err := e.direct.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool)})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, u := range out.Users {
			m := map[string]string{}
			for _, a := range u.Attributes {
				m[aws.ToString(a.Name)] = aws.ToString(a.Value)
			}
			lines = append(lines, m["email"]+"|"+m["phone_number"])
		}
		sort.Strings(lines)
		return strings.Join(lines, " ")
	}
	if got, want := contacts(target.ID), contacts(e.source.ID); got != want {
		t.Fatalf("restored %s, want %s", got, want)
	}
	if rep, _ = e.run(target.ID, restore.Options{}); rep.Counts[restore.InPlace] != 3 {
		t.Fatalf("second run: %v", rep.Counts)
	}
}

// totp computes the current RFC 6238 code of a base32 secret (SHA-1, 30 s, 6 digits).
func totp(t *testing.T, secret string) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(time.Now().Unix()/30))
	h := hmac.New(sha1.New, key)
	h.Write(msg[:])
	sum := h.Sum(nil)
	o := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[o:o+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1_000_000)
}

// A user restored in place who has TOTP in the target keeps it in the mirror.
func TestTOTPKeptInTheMirror(t *testing.T) {
	e := newEnv(t, "admins")
	ctx := context.Background()
	testenv.CreateUser(t, e.direct, e.source.ID, "tom", "Passw0rd!long", testenv.Attrs("email", "tom@example.com", "email_verified", "true")...)
	proxied := testenv.CognitoAt(t, testenv.Proxy(t, 0))
	auth, err := proxied.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(e.source.ClientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "tom", "PASSWORD": "Passw0rd!long"}})
	if err != nil {
		t.Fatal(err)
	}
	token := auth.AuthenticationResult.AccessToken
	assoc, err := proxied.AssociateSoftwareToken(ctx, &cip.AssociateSoftwareTokenInput{AccessToken: token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proxied.VerifySoftwareToken(ctx, &cip.VerifySoftwareTokenInput{AccessToken: token, UserCode: aws.String(totp(t, aws.ToString(assoc.SecretCode)))}); err != nil {
		t.Fatal(err)
	}
	if _, err := proxied.SetUserMFAPreference(ctx, &cip.SetUserMFAPreferenceInput{AccessToken: token,
		SoftwareTokenMfaSettings: &types.SoftwareTokenMfaSettingsType{Enabled: true, PreferredMfa: true}}); err != nil {
		t.Fatal(err)
	}
	if u, err := e.adapt.GetUser(ctx, e.source.ID, "tom"); err != nil || !u.MFA.TOTPEnabled {
		t.Fatalf("tom's TOTP in the pool: %+v %v", u.MFA, err)
	}
	e.mirrorSource()
	e.closeSignUp(e.source.ID)
	_, results := e.run(e.source.ID, restore.Options{Users: []string{"tom"}})
	tom := byName(results)["tom"]
	if tom.Action == restore.Conflict || tom.Action == restore.Failed {
		t.Fatalf("tom: %+v", tom)
	}
	rec, err := e.store.GetUser(ctx, e.source.ID, tom.NewSub)
	if err != nil || !rec.MFA.TOTPEnabled || rec.MFA.Preferred != "SOFTWARE_TOKEN_MFA" {
		t.Fatalf("tom's MFA in the mirror after an in-place restore: %+v %v", rec.MFA, err)
	}
}

// --password-mode reset needs the target to send reset codes: a pool whose
// account recovery is admin_only is refused before anything is written.
func TestResetNeedsARecoveryChannel(t *testing.T) {
	e := newEnv(t)
	put := e.mirrorOnly()
	put(idmirror.User{Username: "ann", Status: "CONFIRMED", Enabled: true, Attributes: map[string]string{"email": "ann@example.com", "email_verified": "true"}})
	adminOnly := e.target(recovery(types.RecoveryOptionNameTypeAdminOnly))
	_, _, err := e.try(nil, adminOnly.ID, restore.Options{PasswordMode: restore.Reset}, false)
	if !errors.Is(err, restore.ErrPreflight) || !strings.Contains(err.Error(), "AccountRecoverySetting") {
		t.Fatalf("reset into an admin_only pool: %v", err)
	}
	if users, _ := snapshot(t, e.direct, adminOnly.ID); len(users) != 0 {
		t.Fatal("the refused restore wrote")
	}
	// The other modes do not need it; a pool that sends codes by email takes a reset.
	if _, _, err := e.try(nil, adminOnly.ID, restore.Options{PasswordMode: restore.Suppress}, false); err != nil {
		t.Fatalf("suppress into an admin_only pool: %v", err)
	}
	byEmail := e.target(recovery(types.RecoveryOptionNameTypeVerifiedEmail))
	if rep, _ := e.run(byEmail.ID, restore.Options{PasswordMode: restore.Reset}); rep.Counts[restore.Create] != 1 {
		t.Fatalf("reset into a verified_email pool: %v", rep.Counts)
	}
}
