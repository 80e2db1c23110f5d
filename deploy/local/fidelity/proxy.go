// Package fidelity is the Cognito fidelity proxy of the local stack. It sits
// in front of cognito-local, speaks the cognito-identity-provider JSON
// protocol, and corrects where cognito-local differs from Cognito in ways
// that matter to idmirror:
//
//   - ListUsers, ListUsersInGroup, ListGroups and AdminListGroupsForUser
//     return pages (at most 60; ListUsersInGroup 25 when no Limit is given)
//     with opaque, signed pagination tokens; forged or stale tokens fail
//     with InvalidParameterException.
//   - Request-rate quotas: a token bucket per quota category at Cognito's
//     default rates (times the rate scale), with the 5-per-pool cap of the
//     UserPoolResource* and UserPoolClient* operations, and the per-user
//     quota (each user's reads and writes, cognito.PerUserRate each whatever
//     the rate scale, by the call's Username); over the quota it answers TooManyRequestsException
//     as Cognito does. One Proxy is one "account": its buckets are shared by
//     every pool behind it.
//   - AdminCreateUser, SignUp and AdminUpdateUserAttributes reject `sub`,
//     `identities` and custom attributes missing from the pool's schema.
//   - In pools that sign in with an email or a phone number, AdminCreateUser
//     takes a phone number as Username (cognito-local wants an email).
//   - A disabled user cannot sign in (NotAuthorizedException "User is
//     disabled."); a wrong password is NotAuthorizedException.
//   - CreateGroup on an existing name is GroupExistsException; GetGroup of a
//     missing group is ResourceNotFoundException (cognito-local: a 500 when
//     the pool has no group yet).
//   - AdminResetUserPassword (user goes to RESET_REQUIRED) and
//     AdminSetUserMFAPreference (returned by AdminGetUser) are implemented here.
//   - A pool where only administrators create users refuses SignUp; an app
//     client's WriteAttributes bound what SignUp and UpdateUserAttributes /
//     DeleteUserAttributes may write; a case-insensitive pool
//     (UsernameConfiguration) matches usernames in any case (access.go).
//
// Everything else is forwarded untouched. GET /_proxy/counts?pool=ID returns
// the calls (and throttled calls; of them, those refused by the per-user
// quota) per operation. Faults: a response can be
// dropped after the call took effect (Options.DropResponse, DropResponses,
// or POST /_proxy/faults), as a response lost on the way back.
package fidelity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/idmirror/idmirror/cognito"
)

const targetPrefix = "AWSCognitoIdentityProviderService."

// Options configures a Proxy.
type Options struct {
	Upstream  string  // cognito-local's base URL
	RateScale float64 // multiplies cognito.DefaultRates; 0 disables throttling
	Client    *http.Client
	// DropResponse, when set, is asked after each successful call whether to
	// drop its response (the call took effect; the client gets no answer).
	DropResponse func(op, pool string, body map[string]any) bool
}

// Proxy is the fidelity proxy. It keeps only what its corrections need: the
// pagination-token key, the quota buckets, the call counts, and the two
// things cognito-local cannot hold (RESET_REQUIRED and MFA preferences set
// by AdminSetUserMFAPreference).
type Proxy struct {
	upstream string
	client   *http.Client
	limiter  *cognito.Limiter
	tokens   *tokenSigner

	mu            sync.Mutex
	calls         map[string]map[string]int // pool → op → calls
	throttled     map[string]map[string]int
	userThrottled map[string]map[string]int // of throttled, refused by the per-user quota
	reset         map[string]bool           // pool/username → RESET_REQUIRED
	mfa           map[string]mfaPref        // pool/username → AdminSetUserMFAPreference
	clients       map[string]string         // app client id → pool id (immutable once created)
	static        map[string]poolSettings   // pool id → its settings that cannot change (case, username attributes)
	faults        []Fault
	dropHook      func(op, pool string, body map[string]any) bool
}

type mfaPref struct {
	SMS, TOTP bool
	Preferred string
}

// New returns a proxy.
func New(o Options) *Proxy {
	p := &Proxy{
		upstream:      strings.TrimRight(o.Upstream, "/"),
		client:        o.Client,
		tokens:        newTokenSigner(),
		calls:         map[string]map[string]int{},
		throttled:     map[string]map[string]int{},
		userThrottled: map[string]map[string]int{},
		reset:         map[string]bool{},
		mfa:           map[string]mfaPref{},
		clients:       map[string]string{},
		static:        map[string]poolSettings{},
		dropHook:      o.DropResponse,
	}
	if p.client == nil {
		// Its own transport (not http.DefaultTransport, which httptest servers
		// reset), keeping idle connections for less than cognito-local's 5 s
		// keep-alive so none is reused as the server closes it.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.IdleConnTimeout = time.Second
		p.client = &http.Client{Timeout: 60 * time.Second, Transport: tr}
	}
	if o.RateScale > 0 {
		// The per-user quota is not scaled: no account can change it.
		p.limiter = cognito.NewLimiter(nil, o.RateScale, 1).WithPerUserRate(cognito.PerUserRate)
	}
	return p
}

// apiError is an error answer in the JSON protocol.
type apiError struct {
	Type    string
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func invalidParameter(format string, args ...any) *apiError {
	return &apiError{"InvalidParameterException", fmt.Sprintf(format, args...)}
}

// request is one decoded call.
type request struct {
	op   string
	pool string
	body map[string]any
	raw  []byte
	hdr  http.Header
}

func (r *request) str(key string) string { s, _ := r.body[key].(string); return s }

func (p *Proxy) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	switch hr.URL.Path {
	case "/_proxy/counts":
		p.serveCounts(w, hr)
		return
	case "/_proxy/faults":
		p.serveFaults(w, hr)
		return
	}
	op, ok := strings.CutPrefix(hr.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok || hr.Method != http.MethodPost {
		p.forwardRaw(w, hr) // health checks, JWKS, anything not an API call
		return
	}
	raw, err := io.ReadAll(hr.Body)
	if err != nil {
		writeError(w, &apiError{"InvalidParameterException", "unreadable body"})
		return
	}
	req := &request{op: op, raw: raw, hdr: hr.Header, body: map[string]any{}}
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&req.body); err != nil {
			writeError(w, &apiError{"SerializationException", "malformed JSON body"})
			return
		}
	}
	req.pool = req.str("UserPoolId")
	p.count(p.calls, req.pool, op)
	if p.limiter != nil {
		if _, ok, byUser := p.limiter.AllowUser(op, req.pool, req.str("Username")); !ok {
			p.count(p.throttled, req.pool, op)
			if byUser {
				p.count(p.userThrottled, req.pool, op)
			}
			writeError(w, &apiError{"TooManyRequestsException", "Too many requests"})
			return
		}
	}
	if err := p.foldUsername(hr.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	out, err := p.handle(hr.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	if p.dropResponse(req) {
		panic(http.ErrAbortHandler) // the connection closes without an answer
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write(out)
}

func (p *Proxy) handle(ctx context.Context, r *request) ([]byte, error) {
	switch r.op {
	case "ListUsers":
		return p.listUsers(ctx, r)
	case "ListUsersInGroup":
		return p.listPaged(ctx, r, "Users", "Username", "NextToken", 25)
	case "ListGroups":
		return p.listPaged(ctx, r, "Groups", "GroupName", "NextToken", 60)
	case "AdminListGroupsForUser":
		return p.adminListGroupsForUser(ctx, r)
	case "AdminCreateUser":
		return p.adminCreateUser(ctx, r)
	case "SignUp":
		return p.signUp(ctx, r)
	case "AdminUpdateUserAttributes":
		return p.checkAttributes(ctx, r)
	case "UpdateUserAttributes", "DeleteUserAttributes":
		return p.userWrite(ctx, r)
	case "InitiateAuth", "AdminInitiateAuth":
		return p.initiateAuth(ctx, r)
	case "CreateGroup":
		return p.createGroup(ctx, r)
	case "GetGroup":
		return p.getGroup(ctx, r)
	case "AdminResetUserPassword":
		return p.adminResetUserPassword(ctx, r)
	case "AdminSetUserMFAPreference":
		return p.adminSetUserMFAPreference(ctx, r)
	case "AdminGetUser":
		return p.adminGetUser(ctx, r)
	case "AdminSetUserPassword", "AdminDeleteUser":
		return p.clearingOverlay(ctx, r)
	case "ConfirmForgotPassword":
		return p.confirmForgotPassword(ctx, r)
	case "DeleteUserPool":
		return p.deleteUserPool(ctx, r)
	}
	return p.forward(ctx, r.op, r.raw)
}

// forward sends the call to cognito-local as it came and returns its answer
// (an *apiError for an error answer).
func (p *Proxy) forward(ctx context.Context, op string, body []byte) ([]byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.upstream+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/x-amz-json-1.1")
	hr.Header.Set("X-Amz-Target", targetPrefix+op)
	resp, err := p.client.Do(hr)
	if err != nil {
		return nil, &apiError{"InternalErrorException", "cognito-local: " + err.Error()}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &apiError{"InternalErrorException", "cognito-local: " + err.Error()}
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Type    string `json:"__type"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(out, &e)
		typ := e.Type
		if typ == "" {
			typ = e.Code
		}
		if i := strings.LastIndexByte(typ, '#'); i >= 0 {
			typ = typ[i+1:]
		}
		if typ == "" {
			typ = "InternalErrorException"
		}
		return nil, &apiError{typ, e.Message}
	}
	return out, nil
}

// call makes a call of our own to cognito-local (not counted, not throttled:
// Cognito does the same work internally).
func (p *Proxy) call(ctx context.Context, op string, in any, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := p.forward(ctx, op, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(resp))
	dec.UseNumber()
	return dec.Decode(out)
}

func (p *Proxy) forwardRaw(w http.ResponseWriter, hr *http.Request) {
	out, err := http.NewRequestWithContext(hr.Context(), hr.Method, p.upstream+hr.URL.RequestURI(), hr.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = hr.Header.Clone()
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = &apiError{"InternalErrorException", err.Error()}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	status := http.StatusBadRequest
	if e.Type == "InternalErrorException" {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

func (p *Proxy) count(m map[string]map[string]int, pool, op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m[pool] == nil {
		m[pool] = map[string]int{}
	}
	m[pool][op]++
}

// serveCounts answers {"calls":{op:n},"throttled":{op:n},"user_throttled":{op:n}} for ?pool=ID, or
// summed over every pool without it.
func (p *Proxy) serveCounts(w http.ResponseWriter, hr *http.Request) {
	pool, all := hr.URL.Query().Get("pool"), !hr.URL.Query().Has("pool")
	sum := func(m map[string]map[string]int) map[string]int {
		out := map[string]int{}
		for pl, ops := range m {
			if all || pl == pool {
				for op, n := range ops {
					out[op] += n
				}
			}
		}
		return out
	}
	p.mu.Lock()
	body := map[string]map[string]int{"calls": sum(p.calls), "throttled": sum(p.throttled), "user_throttled": sum(p.userThrottled)}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func marshal(v any) ([]byte, error) { return json.Marshal(v) }
