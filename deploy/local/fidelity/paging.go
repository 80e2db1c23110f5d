package fidelity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Pagination tokens are opaque to clients: the last key of the page and the
// listing they belong to, signed with a key made at start. A token that was
// altered, belongs to another listing, comes from an earlier proxy run or is
// older than tokenTTL is refused with InvalidParameterException. Pages
// continue after the last key in key order, so users added or removed
// between pages never shift others out of the listing.
const tokenTTL = time.Hour

type tokenSigner struct{ key []byte }

func newTokenSigner() *tokenSigner {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &tokenSigner{key: k}
}

type tokenBody struct {
	Scope  string `json:"s"` // op, pool and the listing's parameters
	After  string `json:"a"` // last key of the previous page
	Issued int64  `json:"t"`
}

func (t *tokenSigner) sign(b tokenBody) string {
	payload, _ := json.Marshal(b)
	mac := hmac.New(sha256.New, t.key)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (t *tokenSigner) open(token, scope string) (string, error) {
	bad := invalidParameter("Invalid pagination token.")
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return "", bad
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(s)
	if err1 != nil || err2 != nil {
		return "", bad
	}
	mac := hmac.New(sha256.New, t.key)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return "", bad
	}
	var b tokenBody
	if json.Unmarshal(payload, &b) != nil || b.Scope != scope {
		return "", bad
	}
	if time.Since(time.Unix(b.Issued, 0)) > tokenTTL {
		return "", invalidParameter("Pagination token expired.")
	}
	return b.After, nil
}

// page cuts one page out of items, sorted by keyField, after the token's key.
func (p *Proxy) page(items []any, keyField, scope, token string, limit int) ([]any, string, error) {
	after := ""
	if token != "" {
		a, err := p.tokens.open(token, scope)
		if err != nil {
			return nil, "", err
		}
		after = a
	}
	key := func(it any) string {
		m, _ := it.(map[string]any)
		s, _ := m[keyField].(string)
		return s
	}
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := sort.Search(len(items), func(i int) bool { return after == "" || key(items[i]) > after })
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = p.tokens.sign(tokenBody{Scope: scope, After: key(items[end-1]), Issued: time.Now().Unix()})
	}
	return items[start:end], next, nil
}

// limitOf reads the request's Limit: at most 60, def when absent or 0.
func limitOf(r *request, def int) (int, error) {
	v, ok := r.body["Limit"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(string(v.(json.Number)))
	if err != nil || n < 0 || n > 60 {
		return 0, invalidParameter("1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60")
	}
	if n == 0 {
		return def, nil
	}
	return n, nil
}

// scopeOf names the listing a token belongs to.
func scopeOf(r *request, params ...string) string {
	parts := []string{r.op, r.pool}
	for _, k := range params {
		parts = append(parts, r.str(k))
	}
	return strings.Join(parts, "\x00")
}

// listPaged forwards a listing without paging parameters (cognito-local
// returns everything) and cuts the requested page out of it.
func (p *Proxy) listPaged(ctx context.Context, r *request, itemsField, keyField, tokenField string, def int) ([]byte, error) {
	limit, err := limitOf(r, def)
	if err != nil {
		return nil, err
	}
	token := r.str(tokenField)
	scope := scopeOf(r, "GroupName", "Username", "Filter")
	if token != "" { // check the token before doing any work
		if _, err := p.tokens.open(token, scope); err != nil {
			return nil, err
		}
	}
	in := copyBody(r.body, "Limit", tokenField)
	var out map[string]any
	if err := p.call(ctx, r.op, in, &out); err != nil {
		return nil, err
	}
	items, _ := out[itemsField].([]any)
	pageItems, next, err := p.page(items, keyField, scope, token, limit)
	if err != nil {
		return nil, err
	}
	out[itemsField] = pageItems
	delete(out, tokenField)
	if next != "" {
		out[tokenField] = next
	}
	return marshal(out)
}

func copyBody(body map[string]any, drop ...string) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

// listUsers pages ListUsers and fixes what cognito-local gets wrong in it:
// AttributesToGet, the status filter's values, RESET_REQUIRED.
func (p *Proxy) listUsers(ctx context.Context, r *request) ([]byte, error) {
	if f := r.str("Filter"); f != "" {
		r.body["Filter"] = strings.NewReplacer(`"Enabled"`, `"true"`, `"Disabled"`, `"false"`).Replace(f)
	}
	out, err := p.listPaged(ctx, r, "Users", "Username", "PaginationToken", 60)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	if ag, ok := r.body["AttributesToGet"].([]any); ok {
		for _, a := range ag {
			if s, ok := a.(string); ok {
				want[s] = true
			}
		}
	}
	users, _ := doc["Users"].([]any)
	for _, u := range users {
		m, _ := u.(map[string]any)
		if m == nil {
			continue
		}
		if name, _ := m["Username"].(string); p.isReset(r.pool, name) {
			m["UserStatus"] = "RESET_REQUIRED"
		}
		if len(want) > 0 {
			m["Attributes"] = filterAttributes(m["Attributes"], want)
		}
	}
	return marshal(doc)
}

func filterAttributes(v any, want map[string]bool) []any {
	attrs, _ := v.([]any)
	out := []any{}
	for _, a := range attrs {
		m, _ := a.(map[string]any)
		if name, _ := m["Name"].(string); want[name] {
			out = append(out, a)
		}
	}
	return out
}

// adminListGroupsForUser pages the groups and resolves an alias (an email or
// phone number) to the username first, which cognito-local does not.
func (p *Proxy) adminListGroupsForUser(ctx context.Context, r *request) ([]byte, error) {
	var u struct{ Username string }
	if err := p.call(ctx, "AdminGetUser", map[string]any{"UserPoolId": r.pool, "Username": r.str("Username")}, &u); err != nil {
		return nil, err
	}
	r.body["Username"] = u.Username
	return p.listPaged(ctx, r, "Groups", "GroupName", "NextToken", 60)
}
