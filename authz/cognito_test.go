package authz_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/authz"
	"github.com/idmirror/idmirror/internal/testenv"
)

const password = "Passw0rd!long"

// signIn returns the user's ID and access tokens, issued by the local stack's
// Cognito (whose pre-token trigger runs in the Lambda emulator).
func signIn(t *testing.T, c *cip.Client, pool testenv.Pool, user string) (idToken, accessToken string) {
	t.Helper()
	out, err := c.InitiateAuth(context.Background(), &cip.InitiateAuthInput{ClientId: aws.String(pool.ClientID),
		AuthFlow: types.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": user, "PASSWORD": password}})
	if err != nil {
		t.Fatalf("sign in %s: %v", user, err)
	}
	return aws.ToString(out.AuthenticationResult.IdToken), aws.ToString(out.AuthenticationResult.AccessToken)
}

func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// reencode replaces a token's header or payload, keeping the rest.
func reencode(t *testing.T, token string, part int, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	parts[part] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// The authorizer against real tokens from the local stack's Cognito
// (cognito-local signs RS256 with kid CognitoLocal; the JWKS is served at
// <issuer>/.well-known/jwks.json, through the fidelity proxy).
func TestAuthorizerWithLocalCognitoTokens(t *testing.T) {
	c := testenv.Cognito(t)
	ctx := context.Background()
	pool := testenv.NewPool(t, c, "admins", "operators")
	other := testenv.NewPool(t, c, "admins", "operators")
	for name, groups := range map[string][]string{"ada": {"admins", "operators"}, "otto": {"operators"}, "olive": nil} {
		for _, p := range []testenv.Pool{pool, other} {
			testenv.CreateUser(t, c, p.ID, name, password, testenv.Attrs("email", name+"@example.com")...)
			for _, g := range groups {
				if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(p.ID),
					Username: aws.String(name), GroupName: aws.String(g)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	issuer := strings.TrimSuffix(os.Getenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"), "/") + "/" + pool.ID
	jwks := issuer + "/.well-known/jwks.json"
	resp, err := http.Get(jwks)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the pool's JWKS is not served at %s: %v", jwks, err)
	}
	resp.Body.Close()

	clk := &clock{now: time.Now()}
	newAuthorizer := func(use string) *authz.Authorizer {
		v, err := authz.NewVerifier(authz.VerifierOptions{Issuer: issuer, ClientID: pool.ClientID, TokenUse: use, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return authz.NewAuthorizer(v, nil)
	}
	v1 := newAuthorizer(authz.TokenUseID)
	arn := methodArn("GET/personal-data")
	base := strings.TrimSuffix(arn, "/GET/personal-data")
	call := func(a *authz.Authorizer, token string) (events.APIGatewayCustomAuthorizerResponse, error) {
		return a.Handle(ctx, events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: token, MethodArn: arn})
	}

	adaID, adaAccess := signIn(t, c, pool, "ada")
	ottoID, _ := signIn(t, c, pool, "otto")
	oliveID, _ := signIn(t, c, pool, "olive")
	if got := claimsOf(t, adaID)["iss"]; got != issuer {
		t.Fatalf("the local tokens' iss is %v, want %s", got, issuer)
	}
	for _, c := range []struct {
		user, token, effect, role string
		routes                    []string
	}{
		{"ada", adaID, "Allow", "admin", []string{base + "/GET/everyday", base + "/GET/personal-data"}},
		{"otto", ottoID, "Allow", "operator", []string{base + "/GET/everyday"}},
		{"olive", oliveID, "Deny", "", []string{base + "/*"}}, // a valid token without a role: 403
	} {
		resp, err := call(v1, c.token)
		if err != nil {
			t.Fatalf("%s: %v", c.user, err)
		}
		st := resp.PolicyDocument.Statement
		if len(st) != 1 || st[0].Effect != c.effect || !slices.Equal(st[0].Resource, c.routes) || !slices.Equal(st[0].Action, []string{"execute-api:Invoke"}) {
			t.Errorf("%s: policy %+v, want %s on %v", c.user, st, c.effect, c.routes)
		}
		if resp.Context[authz.ContextUsername] != c.user || resp.Context[authz.ContextRole] != c.role || resp.PrincipalID == "" {
			t.Errorf("%s: principal %q, context %v", c.user, resp.PrincipalID, resp.Context)
		}
	}

	// Refused with 401: another pool's token (same emulator key, other iss),
	// a forged role claim (the signature no longer matches), alg none, an
	// access token where ID tokens are expected, an expired token.
	otherID, _ := signIn(t, c, other, "ada")
	forged := claimsOf(t, ottoID)
	forged["roles"], forged["role"] = "admin operator", "admin"
	none := reencode(t, reencode(t, adaID, 0, map[string]string{"alg": "none", "kid": "CognitoLocal", "typ": "JWT"}), 1, claimsOf(t, adaID))
	none = none[:strings.LastIndex(none, ".")+1]
	for name, token := range map[string]string{
		"another pool": otherID, "forged role claim": reencode(t, ottoID, 1, forged), "alg none": none,
		"access token": adaAccess, "empty": "",
	} {
		if _, err := call(v1, token); !errors.Is(err, authz.ErrUnauthorized) || err.Error() != "Unauthorized" {
			t.Errorf("%s: %v, want Unauthorized (401)", name, err)
		}
	}
	exp := int64(claimsOf(t, adaID)["exp"].(float64))
	clk.now = time.Unix(exp, 0).Add(time.Minute)
	if _, err := call(v1, adaID); !errors.Is(err, authz.ErrUnauthorized) {
		t.Errorf("expired token: %v, want Unauthorized", err)
	}
	clk.now = time.Now()

	// With V2 events roles come in access tokens; cognito-local sends V1
	// events, so its access tokens carry none: a verified access token
	// without roles is a 403, not a 401.
	got, err := call(newAuthorizer(authz.TokenUseAccess), adaAccess)
	if err != nil || got.PolicyDocument.Statement[0].Effect != "Deny" || got.Context[authz.ContextUsername] != "ada" {
		t.Errorf("local access token: %+v, %v", got, err)
	}
}
