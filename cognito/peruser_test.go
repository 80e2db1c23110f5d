package cognito_test

import (
	"context"
	"testing"
	"time"

	"github.com/idmirror/idmirror/cognito"
)

func TestLimiterHoldsEachUserToPerUserRate(t *testing.T) {
	l := cognito.NewLimiter(nil, 1, 1) // UserUpdate 25 rps burst 25; per user 10 rps burst 10
	for i := range cognito.PerUserRate {
		if _, ok, _ := l.AllowUser("AdminAddUserToGroup", "p", "bob"); !ok {
			t.Fatalf("write %d of bob refused within the per-user quota", i+1)
		}
	}
	if _, ok, byUser := l.AllowUser("AdminAddUserToGroup", "p", "bob"); ok || !byUser {
		t.Fatalf("bob's 11th write in a second: allowed %v, by the per-user quota %v", ok, byUser)
	}
	if _, ok, _ := l.AllowUser("AdminDisableUser", "p", "BOB"); ok {
		t.Fatal("BOB is bob: his writes share one bucket")
	}
	if _, ok, _ := l.AllowUser("AdminGetUser", "p", "bob"); !ok {
		t.Fatal("bob's reads have their own bucket")
	}
	if _, ok, _ := l.AllowUser("AdminAddUserToGroup", "p", "alice"); !ok {
		t.Fatal("another user refused")
	}
	if _, ok, _ := l.AllowUser("AdminAddUserToGroup", "q", "bob"); !ok {
		t.Fatal("bob of another pool refused")
	}
	if _, ok, _ := l.AllowUser("ListUsers", "p", "bob"); !ok {
		t.Fatal("an operation not on one user is not counted per user")
	}
}

func TestPacerPacesOneUsersCalls(t *testing.T) {
	p := cognito.NewPacer(cognito.PacerOptions{Share: 1})
	start := time.Now()
	for range 20 {
		if err := p.DoUser(context.Background(), "AdminAddUserToGroup", "p", "bob", func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// UserUpdate alone (25 rps) lets 20 calls through in 0.76 s; bob's 10
	// writes a second take 1.9 s.
	if d := time.Since(start); d < 1800*time.Millisecond {
		t.Fatalf("20 writes of one user took %s: faster than %d a second", d, cognito.PerUserRate)
	}
}
