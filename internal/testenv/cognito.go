package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/deploy/local/fidelity"
)

// CognitoLocalURL is cognito-local itself, behind the fidelity proxy.
func CognitoLocalURL(t testing.TB) string {
	t.Helper()
	need(t, "IDMIRROR_COGNITO_LOCAL_ENDPOINT")
	return getenv("IDMIRROR_COGNITO_LOCAL_ENDPOINT")
}

// CognitoAt returns a client for the Cognito endpoint at url that retries
// nothing Cognito answers (so a test sees every error, throttles included)
// and only retries a lost connection (see Config).
func CognitoAt(t testing.TB, url string) *cip.Client {
	t.Helper()
	return cip.NewFromConfig(Config(t), func(o *cip.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 5
			so.RateLimiter = ratelimit.None
			so.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
					return aws.TrueTernary
				}
				return aws.FalseTernary
			})}
		})
	})
}

// Pool is a user pool made for one test.
type Pool struct {
	ID       string
	ClientID string
}

// NewPool creates a user pool with the custom attributes custom:tenant and
// custom:legacy_sub, the groups given (precedence in their order), and an app
// client that allows password sign-in; it deletes the pool when the test ends.
func NewPool(t testing.TB, c *cip.Client, groups ...string) Pool {
	t.Helper()
	return newPool(t, c, nil, groups)
}

// NewEmailPool is NewPool for a pool whose users sign in with their email
// (UsernameAttributes [email]; Cognito generates the usernames).
func NewEmailPool(t testing.TB, c *cip.Client, groups ...string) Pool {
	t.Helper()
	return newPool(t, c, []types.UsernameAttributeType{types.UsernameAttributeTypeEmail}, groups)
}

func newPool(t testing.TB, c *cip.Client, usernameAttrs []types.UsernameAttributeType, groups []string) Pool {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:           aws.String(Name("pool")),
		UsernameAttributes: usernameAttrs,
		Schema: []types.SchemaAttributeType{
			{Name: aws.String("tenant"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
			{Name: aws.String("legacy_sub"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
		},
	})
	if err != nil {
		t.Fatalf("create user pool: %v", err)
	}
	p := Pool{ID: aws.ToString(out.UserPool.Id)}
	t.Cleanup(func() {
		_, _ = c.DeleteUserPool(context.Background(), &cip.DeleteUserPoolInput{UserPoolId: aws.String(p.ID)})
	})
	cl, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(p.ID), ClientName: aws.String("app"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{
			types.ExplicitAuthFlowsTypeAllowUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowAdminUserPasswordAuth,
			types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth,
		},
	})
	if err != nil {
		t.Fatalf("create app client: %v", err)
	}
	p.ClientID = aws.ToString(cl.UserPoolClient.ClientId)
	for i, g := range groups {
		if _, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(p.ID), GroupName: aws.String(g), Precedence: aws.Int32(int32(i + 1))}); err != nil {
			t.Fatalf("create group %s: %v", g, err)
		}
	}
	return p
}

// Attrs builds a Cognito attribute list from name, value pairs.
func Attrs(kv ...string) []types.AttributeType {
	out := make([]types.AttributeType, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.AttributeType{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// CreateUser creates a confirmed user with a permanent password.
func CreateUser(t testing.TB, c *cip.Client, pool, username, password string, attrs ...types.AttributeType) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: aws.String(pool), Username: aws.String(username), MessageAction: types.MessageActionTypeSuppress,
		TemporaryPassword: aws.String(password), UserAttributes: attrs,
	}); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	if _, err := c.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(pool), Username: aws.String(username), Password: aws.String(password), Permanent: true,
	}); err != nil {
		t.Fatalf("set password of %s: %v", username, err)
	}
}

// Proxy starts a fidelity proxy of its own in front of the stack's
// cognito-local — its own "account", so a test that saturates quotas does not
// throttle other tests — and returns its URL. scale multiplies Cognito's
// default rates (0: no throttling).
func Proxy(t testing.TB, scale float64) string {
	t.Helper()
	p := fidelity.New(fidelity.Options{Upstream: CognitoLocalURL(t), RateScale: scale})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// PacedPool returns idmirror's Cognito adapter (cognito.NewClient and a
// pacer using share of the default rates) talking to url.
func PacedPool(t testing.TB, url string, share float64) *cognito.Pool {
	t.Helper()
	c := cognito.NewClient(Config(t), func(o *cip.Options) { o.BaseEndpoint = aws.String(url) })
	return cognito.NewPool(c, cognito.NewPacer(cognito.PacerOptions{Share: share}))
}

// CognitoDirect returns a client straight to cognito-local, for seeding
// pools and checking them "behind the mirror's back". It retries failed
// calls patiently (never throttled: no proxy): under the full suite's load a
// call to the emulators now and then loses its connection mid-response.
func CognitoDirect(t testing.TB) *cip.Client {
	t.Helper()
	url := CognitoLocalURL(t)
	return cip.NewFromConfig(Config(t), func(o *cip.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 10
			so.RateLimiter = ratelimit.None
		})
	})
}

// ProxyCounts returns the calls the fidelity proxy at url ("": the local
// stack's) saw for a pool, by operation.
func ProxyCounts(t testing.TB, url, pool string) map[string]int {
	t.Helper()
	if url == "" {
		url = os.Getenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
	}
	resp, err := http.Get(url + "/_proxy/counts?pool=" + pool)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct{ Calls map[string]int }
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c.Calls
}
