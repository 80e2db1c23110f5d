package triggers_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/triggers"
)

func golden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newPreToken(t testing.TB) *triggers.PreToken {
	t.Helper()
	h, err := triggers.NewPreToken(idmirror.DefaultRoleMap(), zaptest.NewLogger(t), triggers.PreTokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// invoke runs the handler the way the Lambda runtime does.
func invoke(t testing.TB, handler any, event []byte) ([]byte, error) {
	t.Helper()
	return lambda.NewHandler(handler).Invoke(context.Background(), event)
}

func response(t *testing.T, out []byte) map[string]any {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, out)
	}
	r, _ := ev["response"].(map[string]any)
	return r
}

func TestPreTokenV1(t *testing.T) {
	out, err := invoke(t, newPreToken(t), golden(t, "pretoken-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := response(t, out)["claimsOverrideDetails"]
	want := map[string]any{"claimsToAddOrOverride": map[string]any{"roles": "admin operator", "role": "admin"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("V1 answer = %v, want %v", got, want)
	}
	// The rest of the event comes back as it was.
	var in, back map[string]any
	json.Unmarshal(golden(t, "pretoken-v1.json"), &in)
	json.Unmarshal(out, &back)
	delete(in, "response")
	delete(back, "response")
	if !reflect.DeepEqual(in, back) {
		t.Fatal("the handler changed the event outside its response")
	}
}

func TestPreTokenV2Operator(t *testing.T) {
	out, err := invoke(t, newPreToken(t), golden(t, "pretoken-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := response(t, out)["claimsAndScopeOverrideDetails"]
	claims := map[string]any{"roles": []any{"operator"}, "role": "operator"}
	want := map[string]any{
		"idTokenGeneration":     map[string]any{"claimsToAddOrOverride": claims},
		"accessTokenGeneration": map[string]any{"claimsToAddOrOverride": claims, "scopesToAdd": []any{"backoffice/everyday"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("V2 operator answer = %v,\nwant %v", got, want)
	}
}

func TestPreTokenV3Admin(t *testing.T) {
	out, err := invoke(t, newPreToken(t), golden(t, "pretoken-v3-admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := response(t, out)["claimsAndScopeOverrideDetails"].(map[string]any)
	access := d["accessTokenGeneration"].(map[string]any)
	if !reflect.DeepEqual(access["scopesToAdd"], []any{"backoffice/everyday", "backoffice/personal-data"}) {
		t.Fatalf("admin scopes = %v", access["scopesToAdd"])
	}
	claims := access["claimsToAddOrOverride"].(map[string]any)
	if claims["role"] != "admin" || !reflect.DeepEqual(claims["roles"], []any{"admin", "operator"}) {
		t.Fatalf("admin claims = %v", claims)
	}
	if _, ok := d["groupOverrideDetails"]; ok {
		t.Fatal("the handler must leave the groups alone")
	}
}

func TestPreTokenLeavesOutsidersAndMachinesAlone(t *testing.T) {
	for _, name := range []string{"pretoken-v2-outsider.json", "pretoken-v3-client-credentials.json"} {
		in := golden(t, name)
		out, err := invoke(t, newPreToken(t), in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var a, b any
		json.Unmarshal(in, &a)
		json.Unmarshal(out, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: answered %s, want the event unchanged (custom:role and clientMetadata grant nothing)", name, out)
		}
	}
}

func TestPreTokenRejectsBadEvents(t *testing.T) {
	h := newPreToken(t)
	for name, ev := range map[string]string{
		"malformed":      `{"version":"1",`,
		"unknown source": `{"version":"1","triggerSource":"PreSignUp_SignUp","userPoolId":"p","userName":"u"}`,
		"no user":        `{"version":"2","triggerSource":"TokenGeneration_Authentication","userPoolId":"p"}`,
		"not an object":  `[1,2,3]`,
	} {
		if _, err := h.Invoke(context.Background(), []byte(ev)); !errors.Is(err, idmirror.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestNewPreTokenRejectsBadRoleMaps(t *testing.T) {
	for name, m := range map[string]string{
		"empty":        `{"roles":[]}`,
		"no groups":    `{"roles":[{"name":"admin","groups":[]}]}`,
		"shared group": `{"roles":[{"name":"admin","groups":["g"]},{"name":"operator","groups":["g"]}]}`,
		"bad name":     `{"roles":[{"name":"Admin Role","groups":["g"]}]}`,
		"bad scope":    `{"roles":[{"name":"admin","groups":["g"],"scopes":["has space"]}]}`,
		"unknown key":  `{"roles":[{"name":"admin","groups":["g"]}],"extra":1}`,
		"duplicate":    `{"roles":[{"name":"admin","groups":["a"]},{"name":"admin","groups":["b"]}]}`,
	} {
		if _, err := idmirror.ParseRoleMap([]byte(m)); !errors.Is(err, idmirror.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
