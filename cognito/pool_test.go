package cognito_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
)

// fakeCognito answers the Cognito API (JSON 1.1 over HTTP) with answer,
// and counts the requests per operation.
type fakeCognito struct {
	mu     sync.Mutex
	calls  map[string]int
	answer func(op string, n int, in map[string]any) (status int, out any)
}

func (f *fakeCognito) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSCognitoIdentityProviderService.")
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls[op]++
	n := f.calls[op]
	f.mu.Unlock()
	status, out := f.answer(op, n, in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeCognito) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func apiError(code, msg string) (int, any) {
	return http.StatusBadRequest, map[string]string{"__type": code, "message": msg}
}

// newFake returns the adapter over NewClient talking to a fake Cognito.
func newFake(t *testing.T, o cognito.PacerOptions, answer func(op string, n int, in map[string]any) (int, any)) (*cognito.Pool, *fakeCognito) {
	t.Helper()
	f := &fakeCognito{calls: map[string]int{}, answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}}
	c := cognito.NewClient(cfg, func(o *cip.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return cognito.NewPool(c, cognito.NewPacer(o)), f
}

func user(name string) map[string]any {
	return map[string]any{"Username": name, "Enabled": true, "UserStatus": "CONFIRMED", "UserCreateDate": 1.7e9,
		"Attributes": []map[string]string{{"Name": "sub", "Value": "sub-" + name}, {"Name": "email", "Value": name + "@example.com"}}}
}

// Sustained throttling: far more throttles in a row than the SDK's default
// retry token bucket allows (500 tokens, 5 per retried throttle), each sent
// once (the SDK retries none of them) and retried by the pacer until Cognito
// answers.
func TestThrottlingIsRetriedByThePacerOnly(t *testing.T) {
	const throttles = 150
	p, f := newFake(t, cognito.PacerOptions{Share: 1000, MaxBackoff: time.Millisecond}, func(op string, n int, in map[string]any) (int, any) {
		if n <= throttles {
			return apiError("TooManyRequestsException", "Too many requests")
		}
		return http.StatusOK, map[string]any{"Users": []any{user("ann")}}
	})
	var got []string
	err := p.ListUsers(context.Background(), "eu-west-1_p", func(u idmirror.User, _ time.Time) error {
		got = append(got, u.Username)
		return nil
	})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListUsers after %d throttles: %v, users %v", throttles, err, got)
	}
	if n := f.count("ListUsers"); n != throttles+1 {
		t.Fatalf("Cognito saw %d ListUsers, want %d: the SDK must not retry throttles itself", n, throttles+1)
	}
	if calls, throttled := p.Pacer().Stats(); calls != throttles+1 || throttled != throttles {
		t.Fatalf("pacer stats: %d calls, %d throttled; want %d, %d", calls, throttled, throttles+1, throttles)
	}
}

// The paginators page through every listing; each call is paced in its own
// operation's category (any call taken for Uncategorized would wait for
// ever at this pace); at is when the answered attempt of the page was sent.
func TestPagingAndObservationTime(t *testing.T) {
	fast := 1e4
	rates := map[cognito.Category]float64{cognito.UserList: fast, cognito.UserRead: fast, cognito.UserResourceRead: fast,
		cognito.UserPoolResourceRead: fast, cognito.Uncategorized: 0.001}
	var mu sync.Mutex
	var lastThrottle, answered time.Time
	token := func(in map[string]any, key string) int {
		var n int
		if s, _ := in[key].(string); s != "" {
			fmt.Sscanf(s, "page%d", &n)
		}
		return n
	}
	page := func(key string, n, last int, items string, v any) map[string]any {
		out := map[string]any{items: v}
		if n < last {
			out[key] = fmt.Sprintf("page%d", n+1)
		}
		return out
	}
	p, _ := newFake(t, cognito.PacerOptions{Rates: rates, Share: 1, MaxBackoff: time.Millisecond}, func(op string, n int, in map[string]any) (int, any) {
		switch op {
		case "ListUsers":
			i := token(in, "PaginationToken")
			if i == 1 && n <= 3 { // the second page is throttled twice
				mu.Lock()
				lastThrottle = time.Now()
				mu.Unlock()
				return apiError("TooManyRequestsException", "Too many requests")
			}
			if i == 1 {
				mu.Lock()
				answered = time.Now()
				mu.Unlock()
			}
			return http.StatusOK, page("PaginationToken", i, 2, "Users", []any{user(fmt.Sprintf("u%d", i))})
		case "ListUsersInGroup":
			i := token(in, "NextToken")
			return http.StatusOK, page("NextToken", i, 2, "Users", []any{user(fmt.Sprintf("m%d", i))})
		case "ListGroups":
			i := token(in, "NextToken")
			return http.StatusOK, page("NextToken", i, 1, "Groups", []any{map[string]any{"GroupName": fmt.Sprintf("g%d", i)}})
		case "AdminGetUser":
			return http.StatusOK, map[string]any{"Username": "ann", "UserStatus": "CONFIRMED", "Enabled": true,
				"UserMFASettingList": []string{cognito.MFASMS}, "PreferredMfaSetting": cognito.MFASMS}
		case "AdminListGroupsForUser":
			i := token(in, "NextToken")
			return http.StatusOK, page("NextToken", i, 1, "Groups", []any{map[string]any{"GroupName": fmt.Sprintf("g%d", 1-i)}})
		}
		return apiError("InvalidParameterException", "unexpected "+op)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var users []string
	var at []time.Time
	if err := p.ListUsers(ctx, "eu-west-1_p", func(u idmirror.User, t time.Time) error {
		users, at = append(users, u.Username), append(at, t)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(users, " ") != "u0 u1 u2" {
		t.Fatalf("ListUsers: %v", users)
	}
	if at[1].Before(lastThrottle) || at[1].After(answered) {
		t.Fatalf("the second page's at is %v; want the answered attempt's send time: after the last throttle %v, before %v",
			at[1], lastThrottle, answered)
	}

	var members []string
	if err := p.GroupMembers(ctx, "eu-west-1_p", "admins", func(u string) error { members = append(members, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(members, " ") != "m0 m1 m2" {
		t.Fatalf("GroupMembers: %v", members)
	}
	groups, err := p.ListGroups(ctx, "eu-west-1_p")
	if err != nil || len(groups) != 2 || groups[1].Name != "g1" {
		t.Fatalf("ListGroups: %v %v", groups, err)
	}
	u, err := p.GetUser(ctx, "eu-west-1_p", "ann")
	if err != nil || strings.Join(u.Groups, " ") != "g0 g1" || !u.MFA.SMSEnabled || u.MFA.Preferred != cognito.MFASMS || u.Status != cognito.StatusConfirmed {
		t.Fatalf("GetUser: %+v %v", u, err)
	}
}

func TestErrorsBecomeSentinels(t *testing.T) {
	p, _ := newFake(t, cognito.PacerOptions{Share: 1000}, func(op string, n int, in map[string]any) (int, any) {
		switch op {
		case "ListUsers":
			return apiError("ResourceNotFoundException", "User pool eu-west-1_gone does not exist.")
		case "AdminResetUserPassword":
			if in["Username"] == "unverified" {
				return apiError("InvalidParameterException", "Cannot reset password for the user as there is no registered/verified email or phone_number")
			}
			return apiError("InvalidParameterException", "1 validation error detected")
		case "AdminCreateUser":
			return apiError("UsernameExistsException", "User account already exists")
		}
		return apiError("UserNotFoundException", "User does not exist.")
	})
	ctx := context.Background()
	err := p.ListUsers(ctx, "eu-west-1_gone", func(idmirror.User, time.Time) error { return nil })
	if !errors.Is(err, idmirror.ErrPoolNotFound) {
		t.Errorf("a pool that is gone: %v", err)
	}
	err = p.ResetPassword(ctx, "p", "unverified")
	if !errors.Is(err, cognito.ErrNoVerifiedContact) || !errors.Is(err, idmirror.ErrInvalid) {
		t.Errorf("no verified contact: %v", err)
	}
	var ae *types.InvalidParameterException
	if !errors.As(err, &ae) {
		t.Errorf("Cognito's error must stay in the chain: %v", err)
	}
	if err := p.ResetPassword(ctx, "p", "other"); errors.Is(err, cognito.ErrNoVerifiedContact) || !errors.Is(err, idmirror.ErrInvalid) {
		t.Errorf("another invalid parameter: %v", err)
	}
	if _, err := p.CreateUser(ctx, "p", "ann", nil, cognito.Suppress); !errors.Is(err, idmirror.ErrExists) {
		t.Errorf("existing user: %v", err)
	}
	if _, err := p.GetUser(ctx, "p", "nobody"); !errors.Is(err, idmirror.ErrNotFound) {
		t.Errorf("missing user: %v", err)
	}
}

func TestStatusesAreCognitosOwn(t *testing.T) {
	ours := map[string]bool{cognito.StatusConfirmed: true, cognito.StatusUnconfirmed: true, cognito.StatusForceChangePassword: true,
		cognito.StatusResetRequired: true, cognito.StatusExternalProvider: true, cognito.StatusArchived: true,
		cognito.StatusCompromised: true, cognito.StatusUnknown: true}
	sdk := types.UserStatusType("").Values()
	if len(sdk) != len(ours) {
		t.Errorf("the SDK lists %d statuses, we have %d: %v", len(sdk), len(ours), sdk)
	}
	for _, s := range sdk {
		if !ours[string(s)] {
			t.Errorf("status %s has no constant", s)
		}
	}
}

// Review B: a pool named like a scratch pool that the caller may not
// describe (the drill role reads only tagged pools) is skipped, not a
// failure of every later drill.
func TestListUserPoolsSkipsPoolsItMayNotRead(t *testing.T) {
	p, _ := newFake(t, cognito.PacerOptions{Share: 1000}, func(op string, n int, in map[string]any) (int, any) {
		switch op {
		case "ListUserPools":
			return http.StatusOK, map[string]any{"UserPools": []any{
				map[string]any{"Id": "eu-west-1_denied", "Name": "idmirror-drill-test"},
				map[string]any{"Id": "eu-west-1_ours", "Name": "idmirror-drill-x"},
				map[string]any{"Id": "eu-west-1_prod", "Name": "prod"},
			}}
		case "DescribeUserPool":
			if in["UserPoolId"] == "eu-west-1_denied" {
				return apiError("AccessDeniedException", "not authorized to perform cognito-idp:DescribeUserPool")
			}
			return http.StatusOK, map[string]any{"UserPool": map[string]any{"Id": in["UserPoolId"], "UserPoolTags": map[string]string{"idmirror:drill": "true"}}}
		}
		return apiError("InvalidParameterException", "unexpected "+op)
	})
	pools, err := p.ListUserPools(context.Background(), "idmirror-drill-")
	if err != nil || len(pools) != 1 || pools[0].ID != "eu-west-1_ours" {
		t.Fatalf("pools = %+v, %v; want only the readable scratch pool", pools, err)
	}
}
