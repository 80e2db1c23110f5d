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

func TestEmailsInside(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_x/alice@example.com from 198.51.100.7": "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_x/a***@example.com from 198.51.100.7",
		"arn:aws:iam::1:user/ops": "arn:aws:iam::1:user/ops",
		"a@b.c d@e.f":             "a***@b.c d***@e.f",
	} {
		if got := Emails(in); got != want {
			t.Errorf("Emails(%q) = %q, want %q", in, got, want)
		}
	}
}
