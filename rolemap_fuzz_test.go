package idmirror_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/idmirror/idmirror"
)

// FuzzParseRoleMap: any input is either refused with ErrInvalid or gives a
// map that validates and survives a round trip through JSON unchanged.
func FuzzParseRoleMap(f *testing.F) {
	def, _ := json.Marshal(idmirror.DefaultRoleMap())
	for _, s := range []string{string(def), `{"roles":[]}`, `{"roles":[{"name":"a","groups":["g"]}]}`, `{"roles":[{"name":"a","groups":["g"]},{"name":"b","groups":["g"]}]}`, `{`, `null`, `{"roles":[{"name":"A","groups":["g"],"scopes":["x y"]}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := idmirror.ParseRoleMap(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed map does not validate: %v", err)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := idmirror.ParseRoleMap(again)
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip: %+v %v, want %+v", back, err, m)
		}
	})
}
