package fidelity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/deploy/local/fidelity"
	"github.com/idmirror/idmirror/internal/testenv"
)

// start runs a proxy in front of the local stack's cognito-local.
func start(t *testing.T, scale float64) (*cip.Client, string) {
	t.Helper()
	p := fidelity.New(fidelity.Options{Upstream: testenv.CognitoLocalURL(t), RateScale: scale})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return testenv.CognitoAt(t, srv.URL), srv.URL
}

const pw = "Passw0rd!long"

func apiCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestPagingWith150Users(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c, "staff")
	for i := range 150 {
		name := fmt.Sprintf("user%03d", i)
		if _, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String(name), MessageAction: types.MessageActionTypeSuppress}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(pool.ID), Username: aws.String(name), GroupName: aws.String("staff")}); err != nil {
			t.Fatal(err)
		}
	}
	listUsers := func(limit int32) (pages []int, names []string) {
		var token *string
		for {
			in := &cip.ListUsersInput{UserPoolId: aws.String(pool.ID), PaginationToken: token}
			if limit > 0 {
				in.Limit = aws.Int32(limit)
			}
			out, err := c.ListUsers(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, len(out.Users))
			for _, u := range out.Users {
				names = append(names, aws.ToString(u.Username))
			}
			if token = out.PaginationToken; token == nil {
				return
			}
		}
	}
	pages, names := listUsers(0)
	if fmt.Sprint(pages) != "[60 60 30]" || len(names) != 150 || !sort.StringsAreSorted(names) || unique(names) != 150 {
		t.Fatalf("ListUsers default pages = %v (%d names, %d unique)", pages, len(names), unique(names))
	}
	if pages, names = listUsers(25); fmt.Sprint(pages) != "[25 25 25 25 25 25]" || unique(names) != 150 {
		t.Fatalf("ListUsers Limit 25 pages = %v", pages)
	}
	// The SDK's paginator walks ListUsersInGroup in pages of 25 by default.
	var groupPages []int
	seen := 0
	pg := cip.NewListUsersInGroupPaginator(c, &cip.ListUsersInGroupInput{UserPoolId: aws.String(pool.ID), GroupName: aws.String("staff")})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		groupPages = append(groupPages, len(out.Users))
		seen += len(out.Users)
	}
	if seen != 150 || groupPages[0] != 25 || len(groupPages) != 6 {
		t.Fatalf("ListUsersInGroup pages = %v", groupPages)
	}

	// Forged, foreign and over-limit requests fail cleanly.
	first, _ := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID), Limit: aws.Int32(10)})
	tok := aws.ToString(first.PaginationToken)
	forged := tok[:len(tok)-3] + "abc"
	for name, in := range map[string]*cip.ListUsersInput{
		"forged":         {UserPoolId: aws.String(pool.ID), PaginationToken: aws.String(forged)},
		"garbage":        {UserPoolId: aws.String(pool.ID), PaginationToken: aws.String("bogus")},
		"other listing":  {UserPoolId: aws.String(pool.ID), PaginationToken: aws.String(tok), Filter: aws.String(`username ^= "user1"`)},
		"limit too high": {UserPoolId: aws.String(pool.ID), Limit: aws.Int32(61)},
	} {
		if _, err := c.ListUsers(ctx, in); apiCode(err) != "InvalidParameterException" {
			t.Errorf("%s: err = %v, want InvalidParameterException", name, err)
		}
	}
	// A token from another proxy (an earlier run) is refused too.
	other, _ := start(t, 0)
	if _, err := other.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID), PaginationToken: first.PaginationToken}); apiCode(err) != "InvalidParameterException" {
		t.Errorf("stale token: err = %v", err)
	}
	// ListUsersInGroup's token cannot page ListUsers.
	g1, _ := c.ListUsersInGroup(ctx, &cip.ListUsersInGroupInput{UserPoolId: aws.String(pool.ID), GroupName: aws.String("staff")})
	if _, err := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID), PaginationToken: g1.NextToken}); apiCode(err) != "InvalidParameterException" {
		t.Errorf("cross-operation token: err = %v", err)
	}
}

func TestPagingGroups(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c)
	testenv.CreateUser(t, c, pool.ID, "many", pw, testenv.Attrs("email", "many@example.com")...)
	for i := range 65 {
		g := fmt.Sprintf("g%02d", i)
		c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(pool.ID), GroupName: aws.String(g)})
		c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(pool.ID), Username: aws.String("many"), GroupName: aws.String(g)})
	}
	var pages []int
	pg := cip.NewListGroupsPaginator(c, &cip.ListGroupsInput{UserPoolId: aws.String(pool.ID)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, len(out.Groups))
	}
	if fmt.Sprint(pages) != "[60 5]" {
		t.Fatalf("ListGroups pages = %v", pages)
	}
	out, err := c.AdminListGroupsForUser(ctx, &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("many"), Limit: aws.Int32(50)})
	if err != nil || len(out.Groups) != 50 || out.NextToken == nil {
		t.Fatalf("AdminListGroupsForUser page 1: %d groups, token %v, %v", len(out.Groups), out.NextToken, err)
	}
	out2, err := c.AdminListGroupsForUser(ctx, &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("many"), Limit: aws.Int32(50), NextToken: out.NextToken})
	if err != nil || len(out2.Groups) != 15 || out2.NextToken != nil {
		t.Fatalf("AdminListGroupsForUser page 2: %d groups, %v", len(out2.Groups), err)
	}
}

func TestThrottlingPerCategory(t *testing.T) {
	c, url := start(t, 0.1) // UserList 3 rps, UserRead 12 rps
	ctx := context.Background()
	pool := testenv.NewPool(t, testenv.CognitoAt(t, testenv.CognitoLocalURL(t)))
	testenv.CreateUser(t, testenv.CognitoAt(t, testenv.CognitoLocalURL(t)), pool.ID, "reader", pw)

	throttled := 0
	for range 20 {
		_, err := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID)})
		var tm *types.TooManyRequestsException
		if errors.As(err, &tm) {
			throttled++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if throttled < 10 {
		t.Fatalf("20 quick ListUsers at 3 rps: %d throttled, want most", throttled)
	}
	// UserList is saturated; UserRead is not.
	for range 5 {
		if _, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("reader")}); err != nil {
			t.Fatalf("AdminGetUser while UserList is saturated: %v", err)
		}
	}
	counts := fetchCounts(t, url, pool.ID)
	if counts.Throttled["ListUsers"] != throttled || counts.Calls["ListUsers"] != 20 || counts.Throttled["AdminGetUser"] != 0 {
		t.Fatalf("counts = %+v", counts)
	}

	// The SDK, set up as idmirror sets it up, recovers: a burst of 15 calls
	// all end in success once the pacer paces them.
	sdk := cognito.NewClient(testenv.Config(t), func(o *cip.Options) { o.BaseEndpoint = aws.String(url) })
	pacer := cognito.NewPacer(cognito.PacerOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 15)
	for range 15 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pacer.Do(ctx, "ListUsers", pool.ID, func(ctx context.Context) error {
				_, err := sdk.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID)})
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("paced call failed: %v", err)
		}
	}
	after := fetchCounts(t, url, pool.ID)
	calls, retried := pacer.Stats()
	t.Logf("paced burst: pacer made %d calls, saw %d throttled; proxy counted %d calls, %d throttled",
		calls, retried, after.Calls["ListUsers"]-counts.Calls["ListUsers"], after.Throttled["ListUsers"]-counts.Throttled["ListUsers"])
	if after.Throttled["ListUsers"] == counts.Throttled["ListUsers"] {
		t.Fatal("the paced burst was never throttled: the recovery path was not exercised")
	}
}

func TestPerPoolCap(t *testing.T) {
	c, _ := start(t, 1) // UserPoolResourceUpdate: 15 rps per account, 5 rps per pool and operation
	ctx := context.Background()
	setup := testenv.CognitoAt(t, testenv.CognitoLocalURL(t))
	a, b := testenv.NewPool(t, setup), testenv.NewPool(t, setup)
	create := func(pool string, n int) (throttled int) {
		for i := range n {
			_, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(pool), GroupName: aws.String(fmt.Sprintf("g%d", i))})
			if apiCode(err) == "TooManyRequestsException" {
				throttled++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		return throttled
	}
	if n := create(a.ID, 8); n < 2 {
		t.Fatalf("8 quick CreateGroup in one pool: %d throttled, want >= 2 (5 per pool)", n)
	}
	if n := create(b.ID, 4); n != 0 {
		t.Fatalf("another pool is not capped by the first: %d throttled", n)
	}
}

type counts struct {
	Calls     map[string]int `json:"calls"`
	Throttled map[string]int `json:"throttled"`
	// UserThrottled: of Throttled, the calls refused by the per-user quota.
	UserThrottled map[string]int `json:"user_throttled"`
}

func fetchCounts(t *testing.T, url, pool string) counts {
	t.Helper()
	resp, err := http.Get(url + "/_proxy/counts?pool=" + pool)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c counts
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidationErrors(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c)
	create := func(name string, attrs ...string) error {
		_, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String(name),
			MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs(attrs...)})
		return err
	}
	if err := create("u1", "sub", "11111111-2222-3333-4444-555555555555"); apiCode(err) != "InvalidParameterException" {
		t.Errorf("caller-supplied sub: %v", err)
	}
	err := create("u2", "custom:nope", "x")
	if apiCode(err) != "InvalidParameterException" || !strings.Contains(err.Error(), "custom:nope") {
		t.Errorf("custom attribute missing from the schema: %v", err)
	}
	if err := create("u3", "custom:tenant", "t1", "email", "u3@example.com"); err != nil {
		t.Errorf("valid create: %v", err)
	}
	if _, err := c.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: aws.String(pool.ID), Username: aws.String("u3"),
		UserAttributes: testenv.Attrs("custom:other", "x")}); apiCode(err) != "InvalidParameterException" {
		t.Errorf("update with an unknown custom attribute: %v", err)
	}
	// Nothing was created by the refused calls.
	out, _ := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID)})
	if len(out.Users) != 1 {
		t.Errorf("refused creates left users: %d", len(out.Users))
	}
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c)
	testenv.CreateUser(t, c, pool.ID, "dora", pw)
	signIn := func(password string) error {
		_, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(pool.ClientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth,
			AuthParameters: map[string]string{"USERNAME": "dora", "PASSWORD": password}})
		return err
	}
	if err := signIn(pw); err != nil {
		t.Fatalf("enabled user: %v", err)
	}
	if err := signIn("wrong-password1!"); apiCode(err) != "NotAuthorizedException" {
		t.Errorf("wrong password: %v, want NotAuthorizedException", err)
	}
	c.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("dora")})
	err := signIn(pw)
	if apiCode(err) != "NotAuthorizedException" || !strings.Contains(err.Error(), "User is disabled.") {
		t.Fatalf("disabled user: %v", err)
	}
	_, err = c.AdminInitiateAuth(ctx, &cip.AdminInitiateAuthInput{UserPoolId: aws.String(pool.ID), ClientId: aws.String(pool.ClientID),
		AuthFlow: types.AuthFlowTypeAdminUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": "dora", "PASSWORD": pw}})
	if apiCode(err) != "NotAuthorizedException" {
		t.Fatalf("disabled user, admin flow: %v", err)
	}
	c.AdminEnableUser(ctx, &cip.AdminEnableUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("dora")})
	if err := signIn(pw); err != nil {
		t.Fatalf("re-enabled user: %v", err)
	}
	// The status filter works with Cognito's values.
	c.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("dora")})
	out, err := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID), Filter: aws.String(`status = "Disabled"`)})
	if err != nil || len(out.Users) != 1 {
		t.Fatalf(`status = "Disabled": %d users, %v`, len(out.Users), err)
	}
}

func TestGroupExists(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c, "admins")
	testenv.CreateUser(t, c, pool.ID, "ann", pw)
	c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(pool.ID), Username: aws.String("ann"), GroupName: aws.String("admins")})
	_, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(pool.ID), GroupName: aws.String("admins")})
	var ge *types.GroupExistsException
	if !errors.As(err, &ge) {
		t.Fatalf("duplicate CreateGroup: %v, want GroupExistsException", err)
	}
	out, _ := c.ListUsersInGroup(ctx, &cip.ListUsersInGroupInput{UserPoolId: aws.String(pool.ID), GroupName: aws.String("admins")})
	if len(out.Users) != 1 {
		t.Fatalf("the group lost its members: %d", len(out.Users))
	}
}

func TestAdminResetUserPassword(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c)
	testenv.CreateUser(t, c, pool.ID, "unverified", pw, testenv.Attrs("email", "u@example.com")...)
	testenv.CreateUser(t, c, pool.ID, "rita", pw, testenv.Attrs("email", "rita@example.com", "email_verified", "true")...)
	reset := func(u string) error {
		_, err := c.AdminResetUserPassword(ctx, &cip.AdminResetUserPasswordInput{UserPoolId: aws.String(pool.ID), Username: aws.String(u)})
		return err
	}
	if err := reset("unverified"); apiCode(err) != "InvalidParameterException" {
		t.Errorf("reset without a verified email: %v", err)
	}
	if err := reset("ghost"); apiCode(err) != "UserNotFoundException" {
		t.Errorf("reset of an unknown user: %v", err)
	}
	if err := reset("rita"); err != nil {
		t.Fatal(err)
	}
	u, _ := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("rita")})
	if u.UserStatus != types.UserStatusTypeResetRequired {
		t.Fatalf("status after reset = %s", u.UserStatus)
	}
	list, _ := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: aws.String(pool.ID), Filter: aws.String(`username = "rita"`)})
	if len(list.Users) != 1 || list.Users[0].UserStatus != types.UserStatusTypeResetRequired {
		t.Fatalf("ListUsers after reset: %+v", list.Users)
	}
	_, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(pool.ClientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "rita", "PASSWORD": pw}})
	if apiCode(err) != "PasswordResetRequiredException" {
		t.Fatalf("sign-in after reset: %v", err)
	}
	c.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: aws.String(pool.ID), Username: aws.String("rita"), Password: aws.String("N3w-password!"), Permanent: true})
	u, _ = c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("rita")})
	if u.UserStatus != types.UserStatusTypeConfirmed {
		t.Fatalf("status after a new password = %s", u.UserStatus)
	}
}

func TestAdminSetUserMFAPreference(t *testing.T) {
	c, _ := start(t, 0)
	ctx := context.Background()
	pool := testenv.NewPool(t, c)
	testenv.CreateUser(t, c, pool.ID, "sam", pw, testenv.Attrs("phone_number", "+15555550100", "phone_number_verified", "true")...)
	testenv.CreateUser(t, c, pool.ID, "nophone", pw)
	set := func(u string, sms, totp *types.SMSMfaSettingsType, soft *types.SoftwareTokenMfaSettingsType) error {
		_, err := c.AdminSetUserMFAPreference(ctx, &cip.AdminSetUserMFAPreferenceInput{UserPoolId: aws.String(pool.ID), Username: aws.String(u),
			SMSMfaSettings: sms, SoftwareTokenMfaSettings: soft})
		return err
	}
	if err := set("sam", &types.SMSMfaSettingsType{Enabled: true, PreferredMfa: true}, nil, nil); err != nil {
		t.Fatal(err)
	}
	u, _ := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("sam")})
	if fmt.Sprint(u.UserMFASettingList) != "[SMS_MFA]" || aws.ToString(u.PreferredMfaSetting) != "SMS_MFA" {
		t.Fatalf("after SMS preference: %v / %v", u.UserMFASettingList, aws.ToString(u.PreferredMfaSetting))
	}
	if err := set("sam", nil, nil, &types.SoftwareTokenMfaSettingsType{Enabled: true}); apiCode(err) != "InvalidParameterException" {
		t.Errorf("TOTP without a software token: %v", err)
	}
	if err := set("nophone", &types.SMSMfaSettingsType{Enabled: true}, nil, nil); apiCode(err) != "InvalidParameterException" {
		t.Errorf("SMS without a phone number: %v", err)
	}
	if err := set("sam", &types.SMSMfaSettingsType{Enabled: false}, nil, nil); err != nil {
		t.Fatal(err)
	}
	u, _ = c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("sam")})
	if len(u.UserMFASettingList) != 0 || u.PreferredMfaSetting != nil {
		t.Fatalf("after turning SMS off: %v / %v", u.UserMFASettingList, aws.ToString(u.PreferredMfaSetting))
	}
}

// The local stack's Cognito endpoint is this proxy, so every other test
// that talks to Cognito goes through it.
func TestStackEndpointIsTheProxy(t *testing.T) {
	url := os.Getenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
	testenv.Cognito(t)
	resp, err := http.Get(url + "/_proxy/counts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s/_proxy/counts: %s: the stack's Cognito endpoint is not the fidelity proxy", url, resp.Status)
	}
}

func unique(s []string) int {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return len(m)
}
