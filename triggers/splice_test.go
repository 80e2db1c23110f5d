package triggers

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSetResponse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a":1,"response":{}}`, `{"a":1,"response":{"x":"y"}}`},
		{`{"response":null,"b":[1,{"c":"}"}]}`, `{"response":{"x":"y"},"b":[1,{"c":"}"}]}`},
		{`{"a":"re\"sponse","response" : {"old":[1,2]} , "z":true}`, `{"a":"re\"sponse","response" : {"x":"y"} , "z":true}`},
		{`{"a":1}`, `{"a":1,"response":{"x":"y"}}`},
		{`{ }`, `{ "response":{"x":"y"}}`},
	} {
		got, err := setResponse([]byte(c.in), []byte(`{"x":"y"}`))
		if err != nil || string(got) != c.want {
			t.Errorf("setResponse(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := setResponse([]byte(`[1]`), []byte(`{}`)); err == nil {
		t.Error("an array is not an event")
	}
}

// For any JSON object, splicing gives the same object as decoding, setting
// the member and encoding again.
func FuzzSetResponse(f *testing.F) {
	f.Add([]byte(`{"version":"1","request":{"k":"v\"}"},"response":{}}`))
	f.Add([]byte(`{"a":[{"response":1}],"b":-1.5e3,"c":null}`))
	f.Add([]byte(`{"response":1,"x":2,"response":{"y":3}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]any
		if json.Unmarshal(data, &want) != nil {
			return
		}
		for k := range want {
			if k == "response" {
				continue
			}
			if b, _ := json.Marshal(k); string(b) != `"`+k+`"` {
				return // keys with escapes: Cognito never sends them
			}
		}
		if raw := []byte(data); hasEscapedResponseKey(raw) {
			return
		}
		got, err := setResponse(data, []byte(`{"set":true}`))
		if err != nil {
			t.Fatalf("setResponse(%q): %v", data, err)
		}
		want["response"] = map[string]any{"set": true}
		var back map[string]any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("setResponse(%q) = %q: invalid JSON: %v", data, got, err)
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("setResponse(%q) = %q", data, got)
		}
	})
}

// hasEscapedResponseKey reports a top-level key that decodes to "response"
// but is written with escapes; findMember compares the key's raw text.
func hasEscapedResponseKey(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, decoded := m["response"]
	_, _, found, _ := findMember(b, "response")
	return decoded && !found
}
