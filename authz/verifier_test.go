package authz_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/idmirror/idmirror/authz"
)

// keyServer is a JWKS endpoint whose key set a test changes (rotation) and
// that counts its fetches.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches atomic.Int32
}

func newKeyServer(t testing.TB, keys ...*testKey) *keyServer {
	s := &keyServer{}
	s.set(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *keyServer) set(keys ...*testKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = nil
	for _, k := range keys {
		s.keys = append(s.keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	}
}

type testKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newKey(t testing.TB, kid string) *testKey {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, priv: priv}
}

const (
	testIssuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test"
	testClient = "client123"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// sign issues a token shaped like a Cognito one (claims given override the defaults).
func (k *testKey) sign(t testing.TB, use string, extra map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"sub": "sub-1", "iss": testIssuer, "token_use": use,
		"iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix(), "auth_time": t0.Unix()}
	if use == authz.TokenUseID {
		claims["aud"], claims["cognito:username"] = testClient, "ann"
	} else {
		claims["client_id"], claims["username"] = testClient, "ann"
	}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func verifier(t testing.TB, srv *keyServer, use string, c *clock) *authz.Verifier {
	t.Helper()
	v, err := authz.NewVerifier(authz.VerifierOptions{Issuer: testIssuer, ClientID: testClient, TokenUse: use,
		JWKSURL: srv.URL, Now: c.Now, RefetchInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifierChecksEveryClaim(t *testing.T) {
	k := newKey(t, "k1")
	srv := newKeyServer(t, k)
	c := &clock{now: t0.Add(time.Minute)}
	id, access := verifier(t, srv, authz.TokenUseID, c), verifier(t, srv, authz.TokenUseAccess, c)
	ctx := context.Background()

	good, err := id.Verify(ctx, "Bearer "+k.sign(t, "id", map[string]any{"roles": "admin operator", "role": "admin"}))
	if err != nil || good.Username != "ann" || good.Role != "admin" || len(good.Roles) != 2 || good.Subject != "sub-1" {
		t.Fatalf("V1 ID token: %+v, %v", good, err)
	}
	got, err := access.Verify(ctx, k.sign(t, "access", map[string]any{"roles": []string{"operator"}, "role": "operator"}))
	if err != nil || got.Username != "ann" || got.Role != "operator" || len(got.Roles) != 1 {
		t.Fatalf("V2 access token: %+v, %v", got, err)
	}
	for name, c := range map[string]struct {
		v     *authz.Verifier
		token string
	}{
		"access token where ID tokens are expected": {id, k.sign(t, "access", nil)},
		"ID token where access tokens are expected": {access, k.sign(t, "id", nil)},
		"ID token of another app client":            {id, k.sign(t, "id", map[string]any{"aud": "other"})},
		"access token of another app client":        {access, k.sign(t, "access", map[string]any{"client_id": "other"})},
		"another issuer":                            {id, k.sign(t, "id", map[string]any{"iss": testIssuer + "x"})},
		"no exp":                                    {id, k.sign(t, "id", map[string]any{"exp": nil})},
		"no sub":                                    {id, k.sign(t, "id", map[string]any{"sub": nil})},
		"not yet valid":                             {id, k.sign(t, "id", map[string]any{"nbf": t0.Add(time.Hour).Unix()})},
		"not a JWT":                                 {id, "abc"},
		"unknown key":                               {id, newKey(t, "k1").sign(t, "id", nil)}, // same kid, other key
	} {
		if _, err := c.v.Verify(ctx, c.token); !errors.Is(err, authz.ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}

	tok := k.sign(t, "id", nil)
	c.add(time.Hour) // exp + 1 min, beyond the 5 s leeway
	if _, err := id.Verify(ctx, tok); !errors.Is(err, authz.ErrInvalidToken) {
		t.Errorf("expired token: %v, want ErrInvalidToken", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("the JWKS was fetched %d times, want once per verifier (cached)", n)
	}
}

// A rotated key: a token with an unknown kid triggers one refetch; further
// unknown kids within the interval trigger none.
func TestVerifierPicksUpRotatedKeys(t *testing.T) {
	old, next := newKey(t, "old"), newKey(t, "next")
	srv := newKeyServer(t, old)
	c := &clock{now: t0}
	v := verifier(t, srv, authz.TokenUseID, c)
	ctx := context.Background()
	if _, err := v.Verify(ctx, old.sign(t, "id", nil)); err != nil {
		t.Fatal(err)
	}
	// Within the interval of the first fetch, an unknown kid is refused without a fetch.
	if _, err := v.Verify(ctx, next.sign(t, "id", nil)); !errors.Is(err, authz.ErrInvalidToken) {
		t.Fatalf("unknown kid: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (rate-limited)", n)
	}
	srv.set(old, next) // Cognito publishes the new key
	c.add(time.Minute)
	if _, err := v.Verify(ctx, next.sign(t, "id", nil)); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	for range 5 { // a burst of made-up kids costs no fetch
		if _, err := v.Verify(ctx, newKey(t, "made-up").sign(t, "id", nil)); !errors.Is(err, authz.ErrInvalidToken) {
			t.Fatal(err)
		}
	}
	srv.set(next) // the old key is withdrawn
	c.add(time.Minute)
	if _, err := v.Verify(ctx, newKey(t, "another").sign(t, "id", nil)); !errors.Is(err, authz.ErrInvalidToken) {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, old.sign(t, "id", nil)); !errors.Is(err, authz.ErrInvalidToken) {
		t.Errorf("a withdrawn key still verifies: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("fetches = %d, want 3", n)
	}
}

// The JWKS cannot be fetched: the verifier's own failure (API Gateway
// answers 500 and caches nothing), never "invalid token" (a cached 401).
func TestVerifierFailsOnUnreachableKeys(t *testing.T) {
	k := newKey(t, "k1")
	srv := newKeyServer(t, k)
	srv.Close()
	v := verifier(t, srv, authz.TokenUseID, &clock{now: t0})
	a := authz.NewAuthorizer(v, nil)
	_, err := a.Handle(context.Background(), events.APIGatewayCustomAuthorizerRequest{
		Type: "TOKEN", AuthorizationToken: k.sign(t, "id", nil), MethodArn: methodArn("GET/everyday")})
	if err == nil || errors.Is(err, authz.ErrUnauthorized) || errors.Is(err, authz.ErrInvalidToken) {
		t.Fatalf("unreachable JWKS: %v, want an error of the authorizer's own", err)
	}
}

func TestNewVerifierRefusesBadOptions(t *testing.T) {
	for _, o := range []authz.VerifierOptions{
		{Issuer: "eu-west-1_Test", ClientID: "c", TokenUse: "id"},
		{Issuer: testIssuer, TokenUse: "id"},
		{Issuer: testIssuer, ClientID: "c", TokenUse: "refresh"},
	} {
		if _, err := authz.NewVerifier(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func methodArn(route string) string {
	return "arn:aws:execute-api:eu-west-1:123456789012:api123/prod/" + route
}

// The warm path: a cached key, a full verification and the policy.
func BenchmarkAuthorizerWarm(b *testing.B) {
	k := newKey(b, "k1")
	srv := newKeyServer(b, k)
	v := verifier(b, srv, authz.TokenUseID, &clock{now: t0.Add(time.Minute)})
	a := authz.NewAuthorizer(v, nil)
	req := events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", MethodArn: methodArn("GET/everyday"),
		AuthorizationToken: k.sign(b, "id", map[string]any{"roles": "admin operator", "role": "admin", "email": "ann@example.com"})}
	ctx := context.Background()
	if resp, err := a.Handle(ctx, req); err != nil || resp.PolicyDocument.Statement[0].Effect != "Allow" {
		b.Fatal(resp, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Handle(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// Concurrent first requests share one JWKS fetch.
func TestVerifierFetchesOnceUnderConcurrency(t *testing.T) {
	k := newKey(t, "k1")
	srv := newKeyServer(t, k)
	v := verifier(t, srv, authz.TokenUseID, &clock{now: t0})
	tok := k.sign(t, "id", map[string]any{"roles": "operator"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}

// The floor: the RS256 signature check alone (crypto/rsa), for comparison
// with BenchmarkAuthorizerWarm.
func BenchmarkRS256SignatureOnly(b *testing.B) {
	k := newKey(b, "k1")
	sum := sha256.Sum256([]byte("header.payload"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(&k.priv.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
