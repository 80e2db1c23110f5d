package cognito_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/idmirror/idmirror/cognito"
)

func TestEveryCategoryHasARateAndKnownOperations(t *testing.T) {
	for op, want := range map[string]cognito.Category{
		"ListUsers": cognito.UserList, "ListUsersInGroup": cognito.UserList, "AdminCreateUser": cognito.UserCreation,
		"AdminAddUserToGroup": cognito.UserUpdate, "AdminSetUserMFAPreference": cognito.UserResourceUpdate, "AdminListGroupsForUser": cognito.UserResourceRead,
		"AdminGetUser": cognito.UserRead, "AdminDisableUser": cognito.UserUpdate, "CreateGroup": cognito.UserPoolResourceUpdate,
		"ListGroups": cognito.UserPoolResourceRead, "DescribeUserPool": cognito.UserPoolRead,
		"AdminResetUserPassword": cognito.UserAccountRecovery, "InitiateAuth": cognito.UserAuthentication,
		"NoSuchOperation": cognito.Uncategorized,
	} {
		if got := cognito.CategoryOf(op); got != want {
			t.Errorf("CategoryOf(%s) = %s, want %s", op, got, want)
		}
		if cognito.DefaultRates[want] <= 0 {
			t.Errorf("no rate for %s", want)
		}
	}
	if !cognito.PerPoolCapped(cognito.UserPoolResourceUpdate) || !cognito.PerPoolCapped(cognito.UserPoolClientRead) || cognito.PerPoolCapped(cognito.UserList) {
		t.Error("PerPoolCapped is wrong")
	}
}

func TestLimiterAllow(t *testing.T) {
	l := cognito.NewLimiter(nil, 0.1, 1) // UserList: 3 per second, burst 3
	allowed := 0
	for range 10 {
		if _, ok := l.Allow("ListUsers", "p"); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("allowed %d of 10 immediate ListUsers at 3 rps with a 1 s burst, want 3", allowed)
	}
	if _, ok := l.Allow("AdminGetUser", "p"); !ok {
		t.Fatal("another category must not be drained")
	}
	// Per-pool cap: CreateGroup 15 rps per account, 0.5 rps per pool at this scale (burst 1).
	if _, ok := l.Allow("CreateGroup", "a"); !ok {
		t.Fatal("first CreateGroup refused")
	}
	if _, ok := l.Allow("CreateGroup", "a"); ok {
		t.Fatal("second CreateGroup in the same pool allowed past the per-pool cap")
	}
	if _, ok := l.Allow("CreateGroup", "b"); !ok {
		t.Fatal("CreateGroup in another pool refused")
	}
}

type apiErr struct{ code string }

func (e apiErr) Error() string                 { return e.code }
func (e apiErr) ErrorCode() string             { return e.code }
func (e apiErr) ErrorMessage() string          { return e.code }
func (e apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

func TestPacerRetriesThrottlesOnlyAndHonoursContext(t *testing.T) {
	p := cognito.NewPacer(cognito.PacerOptions{Share: 100, MaxBackoff: 10 * time.Millisecond})
	calls := 0
	err := p.Do(context.Background(), "ListUsers", "p", func(context.Context) error {
		calls++
		if calls < 5 {
			return apiErr{"TooManyRequestsException"}
		}
		return nil
	})
	if err != nil || calls != 5 {
		t.Fatalf("after 4 throttles: err %v, %d calls", err, calls)
	}
	if c, th := p.Stats(); c != 5 || th != 4 {
		t.Fatalf("stats = %d calls, %d throttled", c, th)
	}
	other := apiErr{"UserNotFoundException"}
	calls = 0
	if err := p.Do(context.Background(), "AdminGetUser", "p", func(context.Context) error { calls++; return other }); !errors.Is(err, other) || calls != 1 {
		t.Fatalf("a non-throttle error must return at once: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = p.Do(ctx, "ListUsers", "p", func(context.Context) error { return apiErr{"TooManyRequestsException"} })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("endless throttling must end with the context: %v", err)
	}
}

func TestPacerRetriesLostConnectionsAFewTimes(t *testing.T) {
	p := cognito.NewPacer(cognito.PacerOptions{Share: 100, MaxBackoff: 5 * time.Millisecond})
	lost := fmt.Errorf("deserialization failed: %w", &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed})
	calls := 0
	err := p.Do(context.Background(), "ListUsers", "p", func(context.Context) error {
		calls++
		if calls < 3 {
			return lost
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("after two lost connections: %v, %d calls", err, calls)
	}
	calls = 0
	err = p.Do(context.Background(), "ListUsers", "p", func(context.Context) error { calls++; return lost })
	if !errors.Is(err, net.ErrClosed) || calls != 6 {
		t.Fatalf("a connection that keeps failing: %v after %d calls, want the error after 6", err, calls)
	}
}
