package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The SDK's own STS client reads the stub's answer, and other actions are refused.
func TestSTSStub(t *testing.T) {
	srv := httptest.NewServer(newRouter(funcs{}, nil))
	defer srv.Close()
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), RetryMaxAttempts: 1})
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Arn) != LocalOperatorARN || aws.ToString(out.Account) != localOperatorAccount {
		t.Errorf("identity = %s %s", aws.ToString(out.Arn), aws.ToString(out.Account))
	}
	if _, err := c.GetSessionToken(context.Background(), &sts.GetSessionTokenInput{}); err == nil {
		t.Error("GetSessionToken answered")
	}
}
