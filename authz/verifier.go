package authz

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"
)

// ErrInvalidToken is a token the verifier does not accept: malformed, not
// RS256, signed by a key the pool does not publish, forged, expired, of
// another pool, app client or token use. API Gateway answers it with 401.
var ErrInvalidToken = errors.New("invalid token")

// Token uses, as Cognito writes them in token_use.
const (
	TokenUseID     = "id"
	TokenUseAccess = "access"
)

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Issuer is the pool's issuer, https://cognito-idp.<region>.amazonaws.com/<poolId>
	// (the local stack: http://127.0.0.1:18100/<poolId>).
	Issuer string
	// ClientID is the app client whose tokens are accepted: the aud claim of
	// ID tokens, client_id of access tokens.
	ClientID string
	// TokenUse is the kind of token accepted: TokenUseID with pre-token V1_0
	// events (role claims only in ID tokens), TokenUseAccess with V2_0.
	TokenUse string
	// JWKSURL defaults to Issuer + "/.well-known/jwks.json".
	JWKSURL string
	// HTTPClient fetches the JWKS (default: a client with a 5 s timeout).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RefetchInterval is the least time between two JWKS fetches: a token
	// with an unknown kid triggers at most one fetch per interval (default 1 min).
	RefetchInterval time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat (default 5 s).
	Leeway time.Duration
	Logger *zap.Logger
}

// Verifier checks Cognito user pool tokens: an RS256 signature by a key of
// the pool's JWKS (fetched once and cached; a kid it does not know makes it
// fetch again, at most once per RefetchInterval, so rotated keys are picked
// up), then iss, token_use, exp and the app client. It is safe for
// concurrent use.
type Verifier struct {
	opt VerifierOptions
	log *zap.Logger

	mu          sync.RWMutex
	keys        map[string]*rsa.PublicKey
	fetchMu     sync.Mutex // one fetch at a time
	lastAttempt time.Time  // guarded by mu
}

// Identity is what a verified token says about its holder.
type Identity struct {
	Subject  string
	Username string
	TokenUse string
	// Roles are the role claims (roles and role) in the order the token
	// lists them; Role is the highest (the role claim, or the first of roles).
	Roles   []string
	Role    string
	Expires time.Time
}

// NewVerifier checks the options; it fetches nothing yet.
func NewVerifier(opt VerifierOptions) (*Verifier, error) {
	if !strings.HasPrefix(opt.Issuer, "https://") && !strings.HasPrefix(opt.Issuer, "http://") {
		return nil, fmt.Errorf("issuer %q: want the pool's issuer URL", opt.Issuer)
	}
	opt.Issuer = strings.TrimSuffix(opt.Issuer, "/")
	if opt.ClientID == "" {
		return nil, errors.New("no app client id")
	}
	if opt.TokenUse != TokenUseID && opt.TokenUse != TokenUseAccess {
		return nil, fmt.Errorf("token use %q: want %q or %q", opt.TokenUse, TokenUseID, TokenUseAccess)
	}
	if opt.JWKSURL == "" {
		opt.JWKSURL = opt.Issuer + "/.well-known/jwks.json"
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.RefetchInterval <= 0 {
		opt.RefetchInterval = time.Minute
	}
	if opt.Leeway <= 0 {
		opt.Leeway = 5 * time.Second
	}
	log := opt.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Verifier{opt: opt, log: log}, nil
}

// RS256 is the only algorithm accepted: Cognito signs user pool tokens with
// it, and pinning it refuses alg "none" and algorithm-confusion tokens.
var algorithms = []jose.SignatureAlgorithm{jose.RS256}

type cognitoClaims struct {
	TokenUse        string `json:"token_use"`
	ClientID        string `json:"client_id"`
	Username        string `json:"username"`
	CognitoUsername string `json:"cognito:username"`
	Roles           any    `json:"roles"`
	Role            any    `json:"role"`
}

// Verify checks raw (a compact JWS, optionally prefixed "Bearer ") and
// returns its holder. A token it does not accept is ErrInvalidToken; any
// other error (the JWKS cannot be fetched) is the verifier's own failure.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	raw = strings.TrimPrefix(raw, "Bearer ")
	tok, err := jwt.ParseSigned(raw, algorithms)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return Identity{}, fmt.Errorf("%w: no key id", ErrInvalidToken)
	}
	key, err := v.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return Identity{}, err
	}
	var std jwt.Claims
	var c cognitoClaims
	if err := tok.Claims(key, &std, &c); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if std.Expiry == nil {
		return Identity{}, fmt.Errorf("%w: no exp", ErrInvalidToken)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.opt.Issuer, Time: v.opt.Now()}, v.opt.Leeway); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.TokenUse != v.opt.TokenUse {
		return Identity{}, fmt.Errorf("%w: token_use %q, want %q", ErrInvalidToken, c.TokenUse, v.opt.TokenUse)
	}
	id := Identity{Subject: std.Subject, TokenUse: c.TokenUse, Expires: std.Expiry.Time()}
	switch c.TokenUse {
	case TokenUseID:
		if len(std.Audience) != 1 || std.Audience[0] != v.opt.ClientID {
			return Identity{}, fmt.Errorf("%w: aud is not the app client", ErrInvalidToken)
		}
		id.Username = c.CognitoUsername
	case TokenUseAccess:
		if c.ClientID != v.opt.ClientID {
			return Identity{}, fmt.Errorf("%w: client_id is not the app client", ErrInvalidToken)
		}
		id.Username = c.Username
	}
	if id.Subject == "" {
		return Identity{}, fmt.Errorf("%w: no sub", ErrInvalidToken)
	}
	id.Roles = ParseRoles(c.Roles, c.Role)
	if s, ok := c.Role.(string); ok && s != "" {
		id.Role = s
	} else if len(id.Roles) > 0 {
		id.Role = id.Roles[0]
	}
	return id, nil
}

// key returns the pool's key with this kid, fetching the JWKS the first time
// and again for an unknown kid (key rotation), at most once per interval.
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	v.mu.RLock()
	k := v.keys[kid]
	v.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	v.mu.RLock()
	k, loaded, last := v.keys[kid], v.keys != nil, v.lastAttempt
	v.mu.RUnlock()
	if k != nil { // another request fetched it meanwhile
		return k, nil
	}
	now := v.opt.Now()
	// Rate-limit refetches once keys are loaded: tokens with made-up kids
	// must not turn into a fetch each. Until the first fetch succeeds, every
	// request tries (one at a time): failing closed for a whole interval
	// would turn a blip into an outage.
	if loaded && now.Sub(last) < v.opt.RefetchInterval {
		return nil, fmt.Errorf("%w: unknown key id", ErrInvalidToken)
	}
	v.mu.Lock()
	v.lastAttempt = now
	v.mu.Unlock()
	keys, err := v.fetch(ctx)
	if err != nil {
		v.log.Error("fetch pool keys", zap.String("jwks_url", v.opt.JWKSURL), zap.Error(err))
		return nil, err
	}
	v.mu.Lock()
	v.keys = keys
	v.mu.Unlock()
	v.log.Info("fetched pool keys", zap.String("jwks_url", v.opt.JWKSURL), zap.Int("keys", len(keys)))
	if k := keys[kid]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: unknown key id", ErrInvalidToken)
}

func (v *Verifier) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.opt.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	resp, err := v.opt.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read jwks: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || k.KeyID == "" || (k.Algorithm != "" && k.Algorithm != string(jose.RS256)) || (k.Use != "" && k.Use != "sig") {
			continue // not a key Cognito signs user pool tokens with
		}
		keys[k.KeyID] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no RS256 signing key")
	}
	return keys, nil
}
