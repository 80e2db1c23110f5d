// Package mempool is an in-memory model of one Amazon Cognito user-pool
// service (any number of pools), for logic tests only: the property-based
// tests of sync and restore and the model test (internal/model), which run
// without the emulator stack.
//
// Service has the methods of the adapter *cognito.Pool, with the same
// signatures, sentinel errors (package idmirror) and operation names
// (Cognito's API names), so it satisfies sync.PoolReader and
// restore.Target. On top of them it offers what a test drives the "world"
// with (SignUp, ConfirmSignUp, DeleteUser, SignIn, …), fault injection (a
// write that fails before it is applied, or is applied and its response
// lost), a log of every call, and snapshots for equality checks.
//
// It follows Cognito's documented behaviour; where the documentation leaves
// room for doubt, the choice made is marked "In doubt". It proves nothing
// about Cognito: fidelity to Cognito is proven through the fidelity proxy
// on the local stack (deploy/local), not here.
package mempool

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/idmirror/idmirror"
)

// Options configure a Service.
type Options struct {
	Now      func() time.Time // users' Created/Modified, ListUsers' page times; default time.Now
	PageSize int              // of every listing; default 60, as the adapter asks
	// Rand is the source of subs; default crypto/rand. A seeded reader
	// (math/rand/v2's ChaCha8) makes runs reproducible.
	Rand  io.Reader
	Fault func(op, pool, username string) FaultAction // see SetFault
}

// FaultAction is what an injected fault does to one write.
type FaultAction int

// Fault actions.
const (
	FaultNone   FaultAction = iota // the call goes through
	FaultBefore                    // the call fails with ErrInjected; nothing is written
	FaultAfter                     // the write is applied, then the call fails with ErrInjected: a lost response
)

// Errors of the model that have no idmirror sentinel.
var (
	// ErrInjected is the error of a call failed by the Fault hook.
	ErrInjected = errors.New("injected fault")
	// ErrNotAuthorized stands for NotAuthorizedException (and the sign-in
	// refusals UserNotConfirmedException, PasswordResetRequiredException).
	ErrNotAuthorized = errors.New("not authorized")
	// ErrNewPasswordRequired is SignIn's NEW_PASSWORD_REQUIRED challenge.
	ErrNewPasswordRequired = errors.New("NEW_PASSWORD_REQUIRED challenge")
)

// PoolOptions is the configuration of a pool made by CreatePool.
type PoolOptions struct {
	Name string
	// UsernameAttributes: none, "email", "phone_number" or both. With some,
	// Cognito generates the username (the sub); users sign in with the
	// attribute, which is unique in the pool.
	UsernameAttributes []string
	// AliasAttributes ("email", "phone_number", "preferred_username"): a
	// user is found by a verified alias too. Alias uniqueness is not modelled.
	AliasAttributes []string
	// CaseSensitive is UsernameConfiguration.CaseSensitive. When false,
	// usernames, and emails, phone numbers and aliases used as ones, match
	// in any case; the stored username keeps the case it was created with.
	CaseSensitive   bool
	AdminCreateOnly bool // AllowAdminCreateUserOnly: SignUp is refused
	// Schema adds custom attributes ("custom:tenant") to the standard ones
	// every pool has, or overrides a standard one. Mutable is taken
	// literally: a custom attribute without it is immutable.
	Schema          []idmirror.SchemaAttribute
	MFA             string   // MfaConfiguration: OFF (default), ON, OPTIONAL
	AccountRecovery []string // reported by Describe, not enforced
	// Clients: app client id → WriteAttributes (empty: none specified).
	// Reported by ClientWriteAttributes, not enforced.
	Clients map[string][]string
	// Reported by Describe, not enforced (issue 16: what pool create copies).
	PasswordPolicy *idmirror.PasswordPolicy
	AutoVerified   []string
	SMSRoleArn     string
	Tags           map[string]string // UserPoolTags
}

func (o PoolOptions) clone() PoolOptions {
	o.UsernameAttributes, o.AliasAttributes = slices.Clone(o.UsernameAttributes), slices.Clone(o.AliasAttributes)
	o.Schema, o.AccountRecovery = slices.Clone(o.Schema), slices.Clone(o.AccountRecovery)
	o.Clients, o.Tags, o.AutoVerified = maps.Clone(o.Clients), maps.Clone(o.Tags), slices.Clone(o.AutoVerified)
	if o.PasswordPolicy != nil {
		pp := *o.PasswordPolicy
		o.PasswordPolicy = &pp
	}
	for id, attrs := range o.Clients {
		o.Clients[id] = append([]string{}, attrs...)
	}
	return o
}

// standardSchema is the schema of every Cognito pool (DescribeUserPool of a
// pool created without a schema).
var standardSchema = func() []idmirror.SchemaAttribute {
	out := []idmirror.SchemaAttribute{{Name: "sub", DataType: "String", Required: true},
		{Name: "email_verified", DataType: "Boolean", Mutable: true}, {Name: "phone_number_verified", DataType: "Boolean", Mutable: true},
		{Name: "updated_at", DataType: "Number", Mutable: true}}
	for _, n := range strings.Fields("address birthdate email family_name gender given_name identities locale middle_name name " +
		"nickname phone_number picture preferred_username profile website zoneinfo") {
		out = append(out, idmirror.SchemaAttribute{Name: n, DataType: "String", Mutable: true})
	}
	return out
}()

// Call is one call made to the service.
type Call struct {
	Op       string // Cognito's API name: AdminCreateUser, ListUsers, …
	Pool     string
	Username string // as the caller gave it ("" for pool and group calls)
	Group    string // for group calls
	Write    bool
	Fault    FaultAction // what the Fault hook decided
	Err      error       // what the caller received
}

// Service is an in-memory Cognito user-pool service, safe for concurrent
// use: one mutex guards everything; listings release it between pages and
// while their callbacks run.
type Service struct {
	now      func() time.Time
	pageSize int
	rand     io.Reader

	mu    sync.Mutex
	fault func(op, pool, username string) FaultAction
	pools map[string]*pool
	calls []Call
	seq   int
}

type pool struct {
	id      string
	created time.Time
	opts    PoolOptions
	schema  map[string]idmirror.SchemaAttribute
	users   map[string]*user // by key(username)
	groups  map[string]*idmirror.Group
}

type user struct {
	u          idmirror.User // Attributes without sub; Groups unused
	groups     map[string]bool
	lastSignIn time.Time
}

// New returns an empty service.
func New(opts Options) *Service {
	s := &Service{now: opts.Now, pageSize: opts.PageSize, rand: opts.Rand, fault: opts.Fault, pools: map[string]*pool{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.pageSize <= 0 {
		s.pageSize = 60
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	return s
}

// SetFault sets (nil: removes) the hook consulted before every write with
// the operation's name, the pool and the username as given. FaultBefore
// fails the call with nothing written; FaultAfter lets the write happen (or
// fail as Cognito would) and then fails the call: a lost response.
func (s *Service) SetFault(f func(op, pool, username string) FaultAction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Calls returns every call made so far, in order.
func (s *Service) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CreatePool creates a pool and returns its id.
func (s *Service) CreatePool(cfg PoolOptions) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	p := &pool{id: fmt.Sprintf("us-east-1_mem%06d", s.seq), created: s.now().UTC(), opts: cfg.clone(), schema: map[string]idmirror.SchemaAttribute{},
		users: map[string]*user{}, groups: map[string]*idmirror.Group{}}
	for _, a := range append(slices.Clone(standardSchema), cfg.Schema...) {
		p.schema[a.Name] = a
	}
	s.pools[p.id] = p
	s.calls = append(s.calls, Call{Op: "CreateUserPool", Pool: p.id, Write: true})
	return p.id
}

// DeletePool deletes a pool with its users and groups (ErrPoolNotFound if
// there is none). Like every write it consults the fault hook; CreatePool,
// which cannot fail, does not.
func (s *Service) DeletePool(id string) error {
	return s.do(context.Background(), Call{Op: "DeleteUserPool", Pool: id, Write: true}, func(p *pool) error {
		delete(s.pools, id)
		return nil
	})
}

// PoolOptions returns the configuration the pool was created with.
func (s *Service) PoolOptions(id string) (PoolOptions, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pools[id]; p != nil {
		return p.opts.clone(), nil
	}
	return PoolOptions{}, errorf("PoolOptions", idmirror.ErrPoolNotFound, "user pool %s does not exist", id)
}

// Describe reads the pool's configuration as cognito.Pool.Describe does
// (schema sorted by name). ErrPoolNotFound if it is gone.
func (s *Service) Describe(ctx context.Context, poolID string) (cfg idmirror.PoolConfig, err error) {
	err = s.do(ctx, Call{Op: "DescribeUserPool", Pool: poolID}, func(p *pool) error {
		o := p.opts.clone()
		cfg = idmirror.PoolConfig{PoolID: poolID, Name: o.Name, MFA: o.MFA, AdminCreateOnly: o.AdminCreateOnly, CaseSensitive: &o.CaseSensitive,
			UsernameAttributes: o.UsernameAttributes, AliasAttributes: o.AliasAttributes, AccountRecovery: o.AccountRecovery,
			PasswordPolicy: o.PasswordPolicy, AutoVerified: o.AutoVerified, SMSRoleArn: o.SMSRoleArn}
		if cfg.MFA == "" {
			cfg.MFA = "OFF"
		}
		cfg.Schema = slices.Collect(maps.Values(p.schema))
		sort.Slice(cfg.Schema, func(i, j int) bool { return cfg.Schema[i].Name < cfg.Schema[j].Name })
		return nil
	})
	return cfg, err
}

// ClientWriteAttributes returns each app client of the pool with the
// attributes its users may write themselves, as
// cognito.Pool.ClientWriteAttributes (an empty list: none specified).
func (s *Service) ClientWriteAttributes(ctx context.Context, poolID string) (out map[string][]string, err error) {
	err = s.do(ctx, Call{Op: "ListUserPoolClients", Pool: poolID}, func(p *pool) error {
		s.log("ListUserPoolClients", poolID, "", s.pages(len(p.opts.Clients))-1)
		s.log("DescribeUserPoolClient", poolID, "", len(p.opts.Clients))
		out = p.opts.clone().Clients
		if out == nil {
			out = map[string][]string{}
		}
		return nil
	})
	return out, err
}

// Snapshot returns the pool's users (with groups and MFA, sorted by
// username) and groups (sorted by name); nil, nil if there is no such pool.
// It is not a Cognito call: neither logged nor faulted.
func (s *Service) Snapshot(poolID string) ([]idmirror.User, []idmirror.Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[poolID]
	if p == nil {
		return nil, nil
	}
	var users []idmirror.User
	for _, u := range p.sortedUsers() {
		users = append(users, u.view(true))
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Username < users[j].Username })
	var groups []idmirror.Group
	for _, name := range slices.Sorted(maps.Keys(p.groups)) {
		groups = append(groups, copyGroup(*p.groups[name]))
	}
	return users, groups
}

// LastSignIn returns when the user last signed in (zero if never). It is
// not a Cognito call: neither logged nor faulted.
func (s *Service) LastSignIn(poolID, username string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[poolID]
	if p == nil {
		return time.Time{}, errorf("LastSignIn", idmirror.ErrPoolNotFound, "user pool %s does not exist", poolID)
	}
	u, err := p.user("LastSignIn", username)
	if err != nil {
		return time.Time{}, err
	}
	return u.lastSignIn, nil
}

// do runs and logs one call. A write first asks the fault hook (outside
// the lock); then, under the lock, f runs on the pool (ErrPoolNotFound if
// there is none). f may log the further calls the adapter would make.
func (s *Service) do(ctx context.Context, c Call, f func(p *pool) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Write {
		s.mu.Lock()
		hook := s.fault
		s.mu.Unlock()
		if hook != nil {
			c.Fault = hook(c.Op, c.Pool, c.Username)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	i := len(s.calls) - 1
	switch p := s.pools[c.Pool]; {
	case c.Fault == FaultBefore:
		c.Err = fmt.Errorf("%s: %w: the request never reached the service", c.Op, ErrInjected)
	case p == nil:
		c.Err = errorf(c.Op, idmirror.ErrPoolNotFound, "user pool %s does not exist", c.Pool)
	default:
		c.Err = f(p)
	}
	if c.Fault == FaultAfter {
		c.Err = fmt.Errorf("%s: %w: the response was lost", c.Op, ErrInjected)
	}
	s.calls[i].Err = c.Err
	return c.Err
}

// log records n further read calls (s.mu held).
func (s *Service) log(op, poolID, username string, n int) {
	for range n {
		s.calls = append(s.calls, Call{Op: op, Pool: poolID, Username: username})
	}
}

// pages is how many pages a listing of n items takes (at least one).
func (s *Service) pages(n int) int { return max(1, (n+s.pageSize-1)/s.pageSize) }

// entry is one item of a listing, under its sort key (never empty).
type entry[T any] struct {
	key  string
	item T
}

// pageThrough streams a listing a page (one call) at a time, releasing the
// lock between pages and while fn runs: what changes meanwhile may or may
// not be seen, but nothing is seen twice. list returns the whole listing
// sorted by key; at is when the page was read.
func pageThrough[T any](ctx context.Context, s *Service, c Call, list func(p *pool) ([]entry[T], error), fn func(item T, at time.Time) error) error {
	for after := ""; ; {
		var page []entry[T]
		var at time.Time
		more := false
		err := s.do(ctx, c, func(p *pool) error {
			at = s.now()
			all, err := list(p)
			page = all[sort.Search(len(all), func(i int) bool { return all[i].key > after }):]
			if more = len(page) > s.pageSize; more {
				page = page[:s.pageSize]
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e.item, at); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		after = page[len(page)-1].key
	}
}

func errorf(op string, sentinel error, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", op, sentinel, fmt.Sprintf(format, args...))
}

// key is the map key of a username (or of an email, phone number or alias
// used as one): folded when the pool is not case sensitive.
func (p *pool) key(name string) string {
	if p.opts.CaseSensitive {
		return name
	}
	return strings.ToLower(name)
}

func (p *pool) sortedUsers() []*user {
	var out []*user
	for _, k := range slices.Sorted(maps.Keys(p.users)) {
		out = append(out, p.users[k])
	}
	return out
}

func copyGroup(g idmirror.Group) idmirror.Group {
	if g.Precedence != nil {
		v := *g.Precedence
		g.Precedence = &v
	}
	return g
}

// view is the user as Cognito reports it: ListUsers and AdminCreateUser
// carry neither groups nor MFA; AdminGetUser with AdminListGroupsForUser
// (detail) do.
func (u *user) view(detail bool) idmirror.User {
	out := u.u
	out.Attributes, out.Groups, out.MFA = maps.Clone(u.u.Attributes), nil, idmirror.MFA{}
	if detail {
		out.MFA, out.Groups = u.u.MFA, idmirror.SortedUnique(slices.Collect(maps.Keys(u.groups)))
	}
	return out
}
