// Command cognitoproxy runs the Cognito fidelity proxy of the local stack
// (package fidelity) in front of cognito-local.
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

	"github.com/idmirror/idmirror/deploy/local/fidelity"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18100", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:18101", "cognito-local's URL")
	scale := flag.Float64("rate-scale", envFloat("IDM_COGNITO_RATE_SCALE", 1), "multiply Cognito's default request rates by this (env IDM_COGNITO_RATE_SCALE); 0 turns throttling off")
	flag.Parse()

	p := fidelity.New(fidelity.Options{Upstream: *upstream, RateScale: *scale})
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
