//go:build unix

package triggers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/idmirror/idmirror/internal/testenv"
)

// rieBinary finds the Lambda Runtime Interface Emulator: IDMIRROR_RIE, or
// .local/bin/aws-lambda-rie under the repository root (deploy/local/stack.sh
// install puts it there).
func rieBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("IDMIRROR_RIE"); p != "" {
		return p
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, ".local", "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := "aws-lambda-rie is not at " + p + " and IDMIRROR_RIE is not set: run deploy/local/stack.sh install (or make test)"
	if testenv.Required() {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED, emulator missing: " + msg)
	return ""
}

// buildPreToken builds this tree's cmd/pretoken as a Lambda bootstrap, the
// way deploy/local/stack.sh does, into a fresh directory.
func buildPreToken(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./cmd/pretoken")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/pretoken: %v\n%s", err, out)
	}
	return dir
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hostPreToken runs the bootstrap in dir under its own RIE, with env added,
// and returns the invoke URL and the process's output.
func hostPreToken(t *testing.T, rie, dir string, env ...string) (string, *lockedBuffer) {
	t.Helper()
	api, runtime := freePort(t), freePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", "127.0.0.1:"+api,
		"--runtime-api-address", "127.0.0.1:"+runtime, "./bootstrap")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROLE_MAP=") && !strings.HasPrefix(kv, "ACCESS_HOURS=") && !strings.HasPrefix(kv, "AWS_LAMBDA_MAX_CONCURRENCY=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: the bootstrap it starts goes with it
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", rie, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	// Ready when it accepts connections (it starts the bootstrap on the first invoke).
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+api, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RIE did not listen on %s: %v\n%s", api, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://127.0.0.1:" + api + "/2015-03-31/functions/function/invocations", out
}

// invokeRIE posts the event through the Lambda Invoke API and returns the
// answer: the event with its response, or the function's error.
func invokeRIE(t *testing.T, url string, event []byte) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: HTTP %d: %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("invoke answered %s: %v", body, err)
	}
	return m
}

// window returns a policy on every day of the week, in Paris, whose window
// runs from now+from to now+to (wall clock, minute precision; it may cross
// midnight), denying admins outside it.
func window(now time.Time, from, to time.Duration) string {
	loc, _ := time.LoadLocation("Europe/Paris")
	return fmt.Sprintf(`{"timeZone":"Europe/Paris","days":["mon","tue","wed","thu","fri","sat","sun"],"start":%q,"end":%q,`+
		`"roles":{"admin":{"outside":"deny"}}}`, now.Add(from).In(loc).Format("15:04"), now.Add(to).In(loc).Format("15:04"))
}

// The business-hours policy in this tree's pre-token binary, hosted in the
// Lambda emulator and invoked through the Invoke API, hours away from the
// window's edges: an admin gets the token inside the window, and is refused
// outside it with the security event on the function's output.
func TestEmulatorBusinessHoursAllowAndDeny(t *testing.T) {
	rie := rieBinary(t)
	dir := buildPreToken(t)
	event := golden(t, "pretoken-v1.json")

	t.Run("inside: allowed", func(t *testing.T) {
		url, out := hostPreToken(t, rie, dir, "ACCESS_HOURS="+window(time.Now(), -3*time.Hour, 3*time.Hour))
		ans := invokeRIE(t, url, event)
		r, _ := ans["response"].(map[string]any)
		claims, _ := r["claimsOverrideDetails"].(map[string]any)["claimsToAddOrOverride"].(map[string]any)
		if claims["role"] != "admin" || claims["roles"] != "admin operator" {
			t.Fatalf("inside the window: answer %v\n%s", ans, out)
		}
		if strings.Contains(out.String(), "out_of_hours") {
			t.Fatalf("an event inside the window:\n%s", out)
		}
	})

	t.Run("outside: denied", func(t *testing.T) {
		url, out := hostPreToken(t, rie, dir, "ACCESS_HOURS="+window(time.Now(), 3*time.Hour, 5*time.Hour))
		ans := invokeRIE(t, url, event)
		if ans["errorMessage"] != "sign-in refused outside working hours" || ans["response"] != nil {
			t.Fatalf("outside the window: answer %v, want the function's error\n%s", ans, out)
		}
		// The event was written before the error was returned; the emulator
		// relays the function's output on its own: wait for it to arrive.
		deadline := time.Now().Add(10 * time.Second)
		for !(strings.Contains(out.String(), `"security_event":"out_of_hours_deny"`) && strings.Contains(out.String(), `"Kind":"out_of_hours_deny"`)) {
			if time.Now().After(deadline) {
				t.Fatalf("no out_of_hours_deny log line and metric in the function's output:\n%s", out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
