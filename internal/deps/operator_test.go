package deps_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/deps"
)

func cfgAt(url string) aws.Config {
	return aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), BaseEndpoint: aws.String(url)}
}

func TestOperatorFromSTS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("Action") != "GetCallerIdentity" {
			t.Errorf("action = %q", r.PostForm.Get("Action"))
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::111122223333:assumed-role/ops/alice</Arn><UserId>AROAX:alice</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`))
	}))
	defer srv.Close()
	a := deps.Operator(context.Background(), cfgAt(srv.URL))
	if a.ARN != "arn:aws:sts::111122223333:assumed-role/ops/alice" || a.PrincipalID != "AROAX:alice" || a.Type != idmirror.ActorRestore || len(a.RunID) != 16 {
		t.Errorf("operator = %+v", a)
	}
	if b := deps.Operator(context.Background(), cfgAt(srv.URL)); b.RunID == a.RunID {
		t.Error("two runs share a run id")
	}
}

func TestOperatorUnknownWithoutSTS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	a := deps.Operator(context.Background(), cfgAt(srv.URL))
	if a.ARN != "" || a.Detail == "" || a.RunID == "" {
		t.Errorf("operator without STS = %+v", a)
	}
}
