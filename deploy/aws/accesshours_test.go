package aws_test

import "testing"

// The business-hours policy is a parameter, off by default, that reaches the
// pre-token function (and only it) as ACCESS_HOURS.
func TestAccessHoursReachesThePreTokenFunction(t *testing.T) {
	tpl := load(t, "identity.yaml")
	p := tpl.get("Parameters", "AccessHours")
	if p.get("Type").str() != "String" || !p.get("Default").ok() || p.get("Default").str() != "" {
		t.Fatalf("AccessHours: want a String parameter, empty (off) by default; got type %q default %q", p.get("Type").str(), p.get("Default").str())
	}
	res := tpl.get("Resources")
	if v := res.get("PreTokenFunction", "Properties", "Environment", "Variables", "ACCESS_HOURS"); !v.is("!Ref", "AccessHours") {
		t.Errorf("PreTokenFunction: ACCESS_HOURS = %s %q, want !Ref AccessHours", v.tag(), v.str())
	}
	for _, id := range functions(t, tpl) {
		if id != "PreTokenFunction" && res.get(id, "Properties", "Environment", "Variables", "ACCESS_HOURS").ok() {
			t.Errorf("%s gets ACCESS_HOURS: only the pre-token function applies it", id)
		}
	}
}
