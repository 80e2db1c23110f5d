package aws_test

import (
	"strings"
	"testing"
)

// The back-office pool is admin-create-only unless a parameter opens it
// (after an incident a stranger could otherwise register an admin's
// username before the restore), and its app client writes only attributes
// the app does not trust: never custom:legacy_sub or custom:tenant, which
// restore and the app rely on, nor the verified flags.
func TestPoolIsAdminCreateOnlyAndClientWritesPinned(t *testing.T) {
	tpl := load(t, "identity.yaml")
	res := tpl.get("Resources")
	only := res.get("UserPool", "Properties", "AdminCreateUserConfig", "AllowAdminCreateUserOnly")
	if !only.is("!Ref", "AdminCreateUserOnly") {
		t.Fatalf("AllowAdminCreateUserOnly = %s, want !Ref AdminCreateUserOnly", nodeText(only.n))
	}
	param := tpl.get("Parameters", "AdminCreateUserOnly")
	if param.get("Default").str() != "true" {
		t.Fatalf("parameter AdminCreateUserOnly defaults to %q, want true", param.get("Default").str())
	}
	writes := res.get("AppClient", "Properties", "WriteAttributes")
	if len(writes.items()) == 0 {
		t.Fatal("AppClient has no WriteAttributes: Cognito lets its users write every standard attribute, and restore cannot count custom:legacy_sub as a proof")
	}
	for _, a := range writes.items() {
		name := a.str()
		if strings.HasPrefix(name, "custom:") || strings.HasSuffix(name, "_verified") || name == "email" || name == "phone_number" {
			t.Errorf("AppClient lets users write %s", name)
		}
	}
}
