package fidelity_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/idmirror/idmirror/internal/testenv"
)

// Each user: 10 writes and 10 reads a second (burst: one second's worth), by
// the call's Username; the category (UserUpdate, 25 rps) is not what refuses
// them.
func TestPerUserQuota(t *testing.T) {
	c, url := start(t, 1)
	ctx := context.Background()
	setup := testenv.CognitoAt(t, testenv.CognitoLocalURL(t))
	groups := make([]string, 20)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%02d", i)
	}
	pool := testenv.NewPool(t, setup, groups...)
	testenv.CreateUser(t, setup, pool.ID, "bob", pw)
	testenv.CreateUser(t, setup, pool.ID, "alice", pw)
	throttled := 0
	for _, g := range groups {
		_, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(pool.ID), Username: aws.String("bob"), GroupName: aws.String(g)})
		if apiCode(err) == "TooManyRequestsException" {
			throttled++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if throttled < 3 {
		t.Fatalf("20 quick writes of one user: %d throttled, want several (10 a second)", throttled)
	}
	if _, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool.ID), Username: aws.String("bob")}); err != nil {
		t.Fatalf("a read of a user whose writes are throttled: %v", err)
	}
	if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(pool.ID), Username: aws.String("alice"), GroupName: aws.String("g00")}); err != nil {
		t.Fatalf("another user's write: %v", err)
	}
	n := fetchCounts(t, url, pool.ID)
	if n.UserThrottled["AdminAddUserToGroup"] != throttled || n.Throttled["AdminAddUserToGroup"] != throttled {
		t.Fatalf("counts %+v; want %d throttled, all by the per-user quota", n, throttled)
	}
}
