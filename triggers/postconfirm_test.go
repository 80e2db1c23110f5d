package triggers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/mirror/memmirror"
	"github.com/idmirror/idmirror/triggers"
)

func newMirror(t *testing.T) *mirror.Store {
	t.Helper()
	db := testenv.DynamoDB(t)
	return mirror.New(db, testenv.NewTable(t, db), nil)
}

// clock returns increasing times, one minute apart.
func clock() func() time.Time {
	t := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Minute); return t }
}

func TestPostConfirmationMirrorsTheUser(t *testing.T) {
	store := newMirror(t)
	h := triggers.NewPostConfirmation(store, nil, triggers.PostConfirmationOptions{Now: clock()})
	ev := golden(t, "postconfirmation-signup.json")
	out, err := invoke(t, h, ev)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal(ev, &a)
	json.Unmarshal(out, &b)
	if !jsonEqual(a, b) {
		t.Fatalf("the event must come back unchanged, got %s", out)
	}
	ctx := context.Background()
	u, err := store.GetUser(ctx, "eu-west-1_EXAMPLE", "a36036a8-9061-424d-a737-56d57dae7bc6")
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "ada" || u.Email() != "ada@example.com" || u.Attributes["custom:tenant"] != "t1" || u.Status != "CONFIRMED" || u.Source != idmirror.SourceTrigger {
		t.Fatalf("mirrored user = %+v", u)
	}
	for k := range u.Attributes {
		if k == "sub" || strings.HasPrefix(k, "cognito:") {
			t.Fatalf("attribute %q must not be mirrored as an attribute", k)
		}
	}
	// Cognito retries a trigger: the same event again records nothing new.
	for range 2 {
		if _, err := invoke(t, h, ev); err != nil {
			t.Fatal(err)
		}
	}
	hist, _ := store.UserHistory(ctx, "eu-west-1_EXAMPLE", "a36036a8-9061-424d-a737-56d57dae7bc6")
	if len(hist) != 1 {
		t.Fatalf("three deliveries of one event left %d history items, want 1", len(hist))
	}
	// A forgot-password confirmation updates the same user.
	if _, err := invoke(t, h, golden(t, "postconfirmation-forgot-password.json")); err != nil {
		t.Fatal(err)
	}
	byName, _ := store.FindByUsername(ctx, "eu-west-1_EXAMPLE", "ada")
	if len(byName) != 1 || byName[0].Email() != "ada@example.org" {
		t.Fatalf("after forgot-password: %+v", byName)
	}
	hist, _ = store.UserHistory(ctx, "eu-west-1_EXAMPLE", "a36036a8-9061-424d-a737-56d57dae7bc6")
	if len(hist) != 2 || hist[1].Fields["email"] != (idmirror.FieldChange{Before: "ada@example.com", After: "ada@example.org"}) {
		t.Fatalf("history after forgot-password: %+v", hist)
	}
}

// The event tells the user's attributes and status, nothing of its groups or
// whether it is enabled: a confirmation must not erase a membership granted
// while the user was UNCONFIRMED, nor enable a disabled user in the mirror.
func TestPostConfirmationWritesOnlyWhatTheEventTells(t *testing.T) {
	store := newMirror(t)
	ctx := context.Background()
	pool, sub := "eu-west-1_EXAMPLE", "a36036a8-9061-424d-a737-56d57dae7bc6"
	before := idmirror.User{PoolID: pool, Sub: sub, Username: "ada", Status: "UNCONFIRMED", Enabled: false,
		Attributes: map[string]string{"email": "ada@example.com"}, Groups: []string{"operators"}}
	// Seen by a reconcile while UNCONFIRMED: an admin added ada to operators, and disabled her.
	if _, err := store.PutUser(ctx, idmirror.UserWrite{User: before, Fields: idmirror.AllFields, At: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	h := triggers.NewPostConfirmation(store, nil, triggers.PostConfirmationOptions{Now: clock()})
	if _, err := invoke(t, h, golden(t, "postconfirmation-signup.json")); err != nil {
		t.Fatal(err)
	}
	u, err := store.GetUser(ctx, pool, sub)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "CONFIRMED" || fmt.Sprint(u.Groups) != "[operators]" || u.Enabled {
		t.Fatalf("after the confirmation: status %s, groups %v, enabled %v; want CONFIRMED, [operators], false", u.Status, u.Groups, u.Enabled)
	}
	hist, _ := store.UserHistory(ctx, pool, sub)
	for _, e := range hist {
		if _, ok := e.Fields["groups"]; ok && e.Source == idmirror.SourceTrigger {
			t.Fatalf("the trigger recorded a membership change it never saw: %+v", e.Fields)
		}
	}
}

func TestPostConfirmationRejectsBadEventsBeforeWriting(t *testing.T) {
	store := newMirror(t)
	h := triggers.NewPostConfirmation(store, nil, triggers.PostConfirmationOptions{})
	good := string(golden(t, "postconfirmation-signup.json"))
	for name, ev := range map[string]string{
		"malformed":      `{"triggerSource":`,
		"unknown source": strings.Replace(good, "PostConfirmation_ConfirmSignUp", "PreSignUp_SignUp", 1),
		"no sub":         strings.Replace(good, `"sub": "a36036a8-9061-424d-a737-56d57dae7bc6",`, "", 1),
		"no pool":        strings.Replace(good, `"userPoolId": "eu-west-1_EXAMPLE"`, `"userPoolId": ""`, 1),
		"no user name":   strings.Replace(good, `"userName": "ada"`, `"userName": ""`, 1),
	} {
		_, err := h.Invoke(context.Background(), []byte(ev))
		if !errors.Is(err, idmirror.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := store.GetUser(context.Background(), "eu-west-1_EXAMPLE", "a36036a8-9061-424d-a737-56d57dae7bc6"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("a rejected event wrote the user: %v", err)
	}
}

// failingStore stands in for a mirror that cannot be reached.
type failingStore struct{ calls int }

func (f *failingStore) PutUser(context.Context, idmirror.UserWrite) (idmirror.Outcome, error) {
	f.calls++
	return 0, errors.New("dial tcp: connection refused")
}

func TestPostConfirmationFailurePolicy(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	var metrics bytes.Buffer
	f := &failingStore{}
	h := triggers.NewPostConfirmation(f, zap.New(core), triggers.PostConfirmationOptions{Budget: 200 * time.Millisecond, Metrics: &metrics})
	ev := golden(t, "postconfirmation-signup.json")
	start := time.Now()
	out, err := h.Invoke(context.Background(), ev)
	if err != nil || !bytes.Equal(out, ev) {
		t.Fatalf("default mode must confirm the user anyway: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("the write took %v, past its budget", elapsed)
	}
	if f.calls < 2 {
		t.Fatalf("the write was tried %d times, want retries", f.calls)
	}
	var emf map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &emf); err != nil || emf["MirrorWriteFailures"] != float64(1) || emf["_aws"] == nil {
		t.Fatalf("metric line = %q (%v)", metrics.String(), err)
	}
	entries := logs.FilterMessage("mirror write failed; sync will repair it").All()
	if len(entries) != 1 {
		t.Fatalf("failure log lines: %d", len(entries))
	}
	line := entries[0].ContextMap()
	if line["email_masked"] != "a***@example.com" || strings.Contains(toJSON(line), "ada@example.com") {
		t.Fatalf("the log must mask the email: %v", line)
	}

	strict := triggers.NewPostConfirmation(&failingStore{}, nil, triggers.PostConfirmationOptions{Budget: 50 * time.Millisecond, Strict: true, Metrics: &bytes.Buffer{}})
	if _, err := strict.Invoke(context.Background(), ev); err == nil {
		t.Fatal("strict mode must fail the confirmation")
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func jsonEqual(a, b any) bool { return toJSON(a) == toJSON(b) }

// The history item names the trigger source and the app client; a
// confirmation without an app client (cognito-local's, an admin's) says so.
func TestPostConfirmationRecordsItsActor(t *testing.T) {
	store := memmirror.New()
	h := triggers.NewPostConfirmation(store, nil, triggers.PostConfirmationOptions{Now: clock(), Metrics: &bytes.Buffer{}})
	for file, want := range map[string]idmirror.Actor{
		"postconfirmation-signup.json":          {Type: idmirror.ActorTrigger, ClientID: "1example23456789", Detail: "sign-up confirmation"},
		"postconfirmation-forgot-password.json": {Type: idmirror.ActorTrigger, ClientID: "1example23456789", Detail: "forgotten-password confirmation"},
		"postconfirmation-cognito-local.json":   {Type: idmirror.ActorTrigger, Detail: "sign-up confirmation (no app client: admin API or console)"},
	} {
		ev := golden(t, file)
		if _, err := invoke(t, h, ev); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		u, _, err := triggers.ParsePostConfirmation(ev)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := store.UserHistory(context.Background(), u.PoolID, u.Sub)
		if err != nil || len(hist) == 0 {
			t.Fatalf("%s: history %v", file, err)
		}
		if got := hist[len(hist)-1].Actor; got != want {
			t.Errorf("%s: actor %+v, want %+v", file, got, want)
		}
	}
}
