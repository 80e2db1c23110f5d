package triggers

import (
	"bytes"
	"errors"
)

var errNotObject = errors.New("event is not a JSON object")

// setResponse returns a copy of the JSON object event with its top-level
// "response" member set to value (added if absent). event must be valid JSON
// (the handlers decode it first). One pass over the bytes, no decoding:
// the pre-token path answers in microseconds.
func setResponse(event, value []byte) ([]byte, error) {
	start, end, found, err := findMember(event, "response")
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(event)+len(value)+16)
	if found {
		out = append(out, event[:start]...)
		out = append(out, value...)
		return append(out, event[end:]...), nil
	}
	// Insert before the closing brace.
	closing := bytes.LastIndexByte(event, '}')
	body := bytes.TrimSpace(event[bytes.IndexByte(event, '{')+1 : closing])
	out = append(out, event[:closing]...)
	if len(body) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"response":`...)
	out = append(out, value...)
	return append(out, event[closing:]...), nil
}

// findMember locates the value of a top-level member of a JSON object:
// event[start:end] is the value's text (of the last such member, should the
// key repeat). The key must be written without
// escapes (Cognito writes "response" plainly).
func findMember(event []byte, key string) (start, end int, found bool, err error) {
	i := skipSpace(event, 0)
	if i >= len(event) || event[i] != '{' {
		return 0, 0, false, errNotObject
	}
	i++
	for {
		i = skipSpace(event, i)
		if i >= len(event) {
			return 0, 0, false, errNotObject
		}
		switch event[i] {
		case '}':
			return start, end, found, nil
		case ',':
			i++
			continue
		case '"':
		default:
			return 0, 0, false, errNotObject
		}
		kEnd := skipString(event, i)
		name := event[i+1 : kEnd-1]
		i = skipSpace(event, kEnd)
		if i >= len(event) || event[i] != ':' {
			return 0, 0, false, errNotObject
		}
		vStart := skipSpace(event, i+1)
		vEnd := skipValue(event, vStart)
		if string(name) == key { // the last one wins, as for JSON decoders
			start, end, found = vStart, vEnd, true
		}
		i = vEnd
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i // number, true, false, null
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	return j
}
