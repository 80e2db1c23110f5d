// Command router is the local stack's Lambda endpoint: cognito-local sends
// every trigger to one endpoint as POST /2015-03-31/functions/NAME/invocations,
// while the Runtime Interface Emulator answers only the name "function",
// crashes when two invocations overlap and reports a handler error without
// the X-Amz-Function-Error header. The router maps each name to its own RIE,
// runs one invocation at a time per function, and sets the error header.
//
//	router -listen 127.0.0.1:18300 -fn postconfirm=http://127.0.0.1:18400 -fn pretoken=http://127.0.0.1:18402
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

type funcs map[string]string

func (f funcs) String() string { return fmt.Sprint(map[string]string(f)) }
func (f funcs) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return errors.New("want NAME=URL")
	}
	f[name] = strings.TrimRight(url, "/")
	return nil
}

func main() {
	fns := funcs{}
	listen := flag.String("listen", "127.0.0.1:18300", "address to serve the Lambda Invoke API on")
	flag.Var(fns, "fn", "NAME=RIE_URL, repeatable")
	cognitoURL := flag.String("cognito", "", "cognito-local's URL: fill the groupConfiguration of pre-token events from it, as Cognito does")
	flag.Parse()

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.IdleConnTimeout = time.Second // below the servers' keep-alive timeouts
	r := newRouter(fns, &http.Client{Timeout: 30 * time.Second, Transport: tr})
	r.cognito = strings.TrimRight(*cognitoURL, "/")
	srv := &http.Server{Addr: *listen, Handler: r, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("router: listening on %s for %v", *listen, fns)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("router: %v", err)
	}
}

type router struct {
	fns     funcs
	client  *http.Client
	locks   map[string]*sync.Mutex
	cognito string // cognito-local, for groupConfiguration; "" leaves events as they come
}

func newRouter(fns funcs, client *http.Client) *router {
	r := &router{fns: fns, client: client, locks: map[string]*sync.Mutex{}}
	for name := range fns {
		r.locks[name] = &sync.Mutex{}
	}
	return r
}

const invokePrefix = "/2015-03-31/functions/"

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/healthz" {
		fmt.Fprintln(w, "ok")
		return
	}
	if req.URL.Path == "/" && req.Method == http.MethodPost {
		serveSTS(w, req)
		return
	}
	rest, ok := strings.CutPrefix(req.URL.Path, invokePrefix)
	name, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "invocations" || req.Method != http.MethodPost {
		lambdaError(w, http.StatusNotFound, "UnknownOperationException", "unknown path "+req.URL.Path)
		return
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 { // an ARN or name:qualifier
		name = name[i+1:]
	}
	target, ok := r.fns[name]
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if r.cognito != "" {
		if body, err = r.fillGroups(req.Context(), body); err != nil {
			lambdaError(w, http.StatusBadGateway, "ServiceException", "fill groupConfiguration: "+err.Error())
			return
		}
	}
	mu := r.locks[name]
	mu.Lock()
	status, out, err := r.invoke(req.Context(), target, body)
	mu.Unlock()
	if err != nil {
		lambdaError(w, http.StatusBadGateway, "ServiceException", err.Error())
		return
	}
	if status == http.StatusOK && isFunctionError(out) {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func (r *router) invoke(ctx context.Context, target string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+invokePrefix+"function/invocations", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("invoke %s: %w", target, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// isFunctionError recognises the error document a Lambda runtime returns
// when the handler fails: an object with errorMessage and errorType only.
func isFunctionError(body []byte) bool {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	if _, ok := doc["errorMessage"]; !ok {
		return false
	}
	for k := range doc {
		switch k {
		case "errorMessage", "errorType", "stackTrace", "requestId":
		default:
			return false
		}
	}
	return true
}

func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
