// Command cognitoproxy is the Cognito fidelity proxy of the local stack. It
// sits in front of cognito-local, speaks the cognito-identity-provider JSON
// protocol, and corrects where cognito-local differs from Cognito in ways
// that matter to idmirror:
//
//   - ListUsers, ListUsersInGroup, ListGroups and AdminListGroupsForUser
//     return pages (at most 60; ListUsersInGroup 25 when no Limit is given)
//     with opaque, signed pagination tokens; forged or stale tokens fail
//     with InvalidParameterException.
//   - Request-rate quotas: a token bucket per quota category at Cognito's
//     default rates (times -rate-scale), with the 5-per-pool cap of the
//     UserPoolResource* and UserPoolClient* operations; over the quota it
//     answers TooManyRequestsException as Cognito does.
//   - AdminCreateUser, SignUp and AdminUpdateUserAttributes reject `sub` and
//     custom attributes missing from the pool's schema.
//   - A disabled user cannot sign in (NotAuthorizedException "User is
//     disabled."); a wrong password is NotAuthorizedException.
//   - CreateGroup on an existing name is GroupExistsException.
//   - AdminResetUserPassword (user goes to RESET_REQUIRED) and
//     AdminSetUserMFAPreference (returned by AdminGetUser) are implemented here.
//
// Everything else is forwarded untouched. GET /_proxy/counts?pool=ID returns
// the calls (and throttled calls) per operation.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18100", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:18101", "cognito-local's URL")
	scale := flag.Float64("rate-scale", envFloat("IDM_COGNITO_RATE_SCALE", 1), "multiply Cognito's default request rates by this (env IDM_COGNITO_RATE_SCALE); 0 turns throttling off")
	flag.Parse()

	p := New(Options{Upstream: *upstream, RateScale: *scale})
	srv := &http.Server{Addr: *listen, Handler: p, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(c)
	}()
	log.Printf("cognitoproxy: %s -> %s (rate scale %g)", *listen, *upstream, *scale)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("cognitoproxy: %v", err)
	}
}

func envFloat(name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
		log.Fatalf("cognitoproxy: %s=%q is not a number", name, v)
	}
	return def
}
