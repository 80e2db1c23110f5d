package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRIE answers like the Runtime Interface Emulator and fails the test if
// two invocations overlap.
func fakeRIE(t *testing.T, answer string) (*httptest.Server, *atomic.Int32) {
	var inFlight, calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2015-03-31/functions/function/invocations" {
			http.NotFound(w, r)
			return
		}
		if inFlight.Add(1) > 1 {
			t.Error("two invocations overlapped")
		}
		time.Sleep(2 * time.Millisecond)
		calls.Add(1)
		inFlight.Add(-1)
		if answer != "" {
			io.WriteString(w, answer)
			return
		}
		io.Copy(w, r.Body) // echo the event
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func invoke(t *testing.T, url, name, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url+"/2015-03-31/functions/"+name+"/invocations", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRoutesByNameOneAtATime(t *testing.T) {
	rie, calls := fakeRIE(t, "")
	r := httptest.NewServer(newRouter(funcs{"postconfirm": rie.URL}, http.DefaultClient))
	defer r.Close()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := invoke(t, r.URL, "postconfirm", `{"k":1}`)
			if resp.StatusCode != 200 || body != `{"k":1}` || resp.Header.Get("X-Amz-Function-Error") != "" {
				t.Errorf("invoke: %d %q", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 20 {
		t.Fatalf("%d invocations reached the function", calls.Load())
	}
	if resp, _ := invoke(t, r.URL, "nosuch", `{}`); resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Fatalf("unknown function: %d", resp.StatusCode)
	}
}

func TestSetsTheFunctionErrorHeader(t *testing.T) {
	rie, _ := fakeRIE(t, `{"errorMessage":"invalid input: missing sub","errorType":"wrapError"}`)
	r := httptest.NewServer(newRouter(funcs{"f": rie.URL}, http.DefaultClient))
	defer r.Close()
	resp, _ := invoke(t, r.URL, "arn:aws:lambda:us-east-1:000000000000:function:f", `{}`)
	if resp.Header.Get("X-Amz-Function-Error") != "Unhandled" {
		t.Fatal("a handler error must carry X-Amz-Function-Error")
	}
	if isFunctionError([]byte(`{"errorMessage":"x","response":{}}`)) {
		t.Fatal("an event that has an errorMessage field among others is not an error")
	}
}

func TestFillsGroupConfiguration(t *testing.T) {
	cognito := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AWSCognitoIdentityProviderService.AdminListGroupsForUser" {
			t.Errorf("unexpected call %s", r.Header.Get("X-Amz-Target"))
		}
		io.WriteString(w, `{"Groups":[
			{"GroupName":"operators","Precedence":2,"RoleArn":"arn:aws:iam::1:role/ops"},
			{"GroupName":"misc"},
			{"GroupName":"admins","Precedence":1,"RoleArn":"arn:aws:iam::1:role/adm"}]}`)
	}))
	defer cognito.Close()
	rie, _ := fakeRIE(t, "")
	rt := newRouter(funcs{"pretoken": rie.URL}, http.DefaultClient)
	rt.cognito = cognito.URL
	r := httptest.NewServer(rt)
	defer r.Close()
	_, body := invoke(t, r.URL, "pretoken", `{"version":"0","triggerSource":"TokenGeneration_Authentication","userPoolId":"local_1","userName":"ada",
		"request":{"userAttributes":{"sub":"s"},"groupConfiguration":{}},"response":{"claimsOverrideDetails":{}}}`)
	var ev struct {
		Request struct {
			GroupConfiguration groupConfiguration `json:"groupConfiguration"`
		} `json:"request"`
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		t.Fatal(err)
	}
	gc := ev.Request.GroupConfiguration
	if strings.Join(gc.GroupsToOverride, ",") != "admins,operators,misc" ||
		strings.Join(gc.IAMRolesToOverride, ",") != "arn:aws:iam::1:role/adm,arn:aws:iam::1:role/ops" ||
		gc.PreferredRole == nil || *gc.PreferredRole != "arn:aws:iam::1:role/adm" {
		t.Fatalf("groupConfiguration = %+v", gc)
	}
	// Other events pass untouched.
	in := `{"triggerSource":"PostConfirmation_ConfirmSignUp","userPoolId":"p","userName":"u"}`
	if _, body := invoke(t, r.URL, "pretoken", in); !bytes.Equal([]byte(body), []byte(in)) {
		t.Fatalf("a post-confirmation event was changed: %s", body)
	}
}
