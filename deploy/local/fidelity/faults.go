package fidelity

import (
	"encoding/json"
	"net/http"
)

// Fault is a response the proxy drops: the call is carried out (cognito-local
// writes), then the connection is closed without an answer, as when a
// response is lost on the way back. The client cannot tell whether the call
// took effect; an SDK that retries it gets what a second call gets (for
// AdminCreateUser: UsernameExistsException).
type Fault struct {
	Op       string `json:"op"`                 // the operation, "AdminCreateUser"
	Pool     string `json:"pool,omitempty"`     // "" matches every pool
	Username string `json:"username,omitempty"` // "" matches every user (the call's Username as sent)
	Count    int    `json:"count,omitempty"`    // how many responses to drop (default 1)
}

func (f Fault) matches(r *request) bool {
	return f.Op == r.op && (f.Pool == "" || f.Pool == r.pool) && (f.Username == "" || f.Username == r.str("Username"))
}

// DropResponses arms faults: the next matching successful calls lose their
// response. (Over HTTP: POST /_proxy/faults with a Fault as JSON.)
func (p *Proxy) DropResponses(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	p.mu.Lock()
	p.faults = append(p.faults, f)
	p.mu.Unlock()
}

// dropResponse reports whether the answer to a successful call is to be
// dropped, and uses up the fault (or asks Options.DropResponse).
func (p *Proxy) dropResponse(r *request) bool {
	if p.dropHook != nil && p.dropHook(r.op, r.pool, r.body) {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if f.matches(r) {
			if f.Count--; f.Count == 0 {
				p.faults = append(p.faults[:i], p.faults[i+1:]...)
			} else {
				p.faults[i] = f
			}
			return true
		}
	}
	return false
}

func (p *Proxy) serveFaults(w http.ResponseWriter, hr *http.Request) {
	if hr.Method != http.MethodPost {
		http.Error(w, "POST a fault: {\"op\":\"AdminCreateUser\",\"pool\":\"…\",\"username\":\"…\",\"count\":1}", http.StatusMethodNotAllowed)
		return
	}
	var f Fault
	if err := json.NewDecoder(hr.Body).Decode(&f); err != nil || f.Op == "" {
		http.Error(w, "want a JSON fault with at least op", http.StatusBadRequest)
		return
	}
	p.DropResponses(f)
	w.WriteHeader(http.StatusNoContent)
}
