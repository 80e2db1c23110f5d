// Package redact masks personal data before it reaches a log line.
package redact

import "strings"

// Email keeps the first character of the local part and the domain:
// "alice@example.com" → "a***@example.com".
func Email(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return mask(s)
	}
	return s[:1] + "***" + s[at:]
}

// Phone keeps the last two digits: "+15555550100" → "***00".
func Phone(s string) string {
	if len(s) <= 2 {
		return "***"
	}
	return "***" + s[len(s)-2:]
}

// Attribute masks the value of a user attribute unless it is known to hold
// nothing personal (flags and statuses).
func Attribute(name, value string) string {
	switch name {
	case "email":
		return Email(value)
	case "phone_number":
		return Phone(value)
	case "email_verified", "phone_number_verified", "cognito:user_status":
		return value
	}
	return mask(value)
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// Emails masks every email address inside s (an ARN whose session name is
// a person's address: "…:assumed-role/AWSReservedSSO_Admin/alice@example.com").
func Emails(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ' ' || r == ':' })
	for _, f := range fields {
		if strings.Contains(f, "@") {
			s = strings.Replace(s, f, Email(f), 1)
		}
	}
	return s
}
