package redact

import "testing"

func TestMasks(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Email("alice@example.com"), "a***@example.com"},
		{Email("not-an-email"), "***"},
		{Email(""), ""},
		{Phone("+15555550100"), "***00"},
		{Phone("1"), "***"},
		{Attribute("email", "bob@example.org"), "b***@example.org"},
		{Attribute("given_name", "Robert"), "***"},
		{Attribute("email_verified", "true"), "true"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
