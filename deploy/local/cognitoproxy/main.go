// Command cognitoproxy sits in front of cognito-local and speaks the
// cognito-identity-provider JSON protocol. It counts calls per operation
// (GET /_proxy/counts) and forwards them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18100", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:18101", "cognito-local's URL")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("cognitoproxy: -upstream: %v", err)
	}
	p := &proxy{next: httputil.NewSingleHostReverseProxy(u), counts: map[string]int{}}
	srv := &http.Server{Addr: *listen, Handler: p, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(c)
	}()
	log.Printf("cognitoproxy: %s -> %s", *listen, *upstream)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("cognitoproxy: %v", err)
	}
}

type proxy struct {
	next   http.Handler
	mu     sync.Mutex
	counts map[string]int
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_proxy/counts" {
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.counts)
		return
	}
	if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSCognitoIdentityProviderService."); ok {
		p.mu.Lock()
		p.counts[op]++
		p.mu.Unlock()
	}
	p.next.ServeHTTP(w, r)
}
