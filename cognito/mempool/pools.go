package mempool

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/idmirror/idmirror/cognito"
)

// CreateUserPool makes a pool from a mirrored configuration, as
// cognito.Pool.CreateUserPool does (the same notes: cognito.CreatePoolInput
// decides what is carried over), and returns its id.
func (s *Service) CreateUserPool(ctx context.Context, spec cognito.NewPoolSpec) (string, []string, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	in, notes := cognito.CreatePoolInput(spec)
	cfg := spec.Config
	o := PoolOptions{Name: spec.Name, UsernameAttributes: cfg.UsernameAttributes, AliasAttributes: cfg.AliasAttributes,
		CaseSensitive: cfg.UsernamesCaseSensitive(), AdminCreateOnly: in.AdminCreateUserConfig.AllowAdminCreateUserOnly,
		MFA: string(in.MfaConfiguration), AccountRecovery: cfg.AccountRecovery, PasswordPolicy: cfg.PasswordPolicy,
		AutoVerified: cfg.AutoVerified, Tags: maps.Clone(spec.Tags)}
	if in.SmsConfiguration != nil {
		o.SMSRoleArn = cfg.SMSRoleArn
	}
	for _, a := range cfg.Schema {
		if a.Name != "sub" {
			o.Schema = append(o.Schema, a)
		}
	}
	return s.CreatePool(o), notes, nil
}

// DeleteUserPool is DeletePool with the adapter's signature.
func (s *Service) DeleteUserPool(ctx context.Context, poolID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.DeletePool(poolID)
}

// ListUserPools returns the pools whose name starts with prefix, with their
// tags and creation dates, as cognito.Pool.ListUserPools.
func (s *Service) ListUserPools(ctx context.Context, prefix string) ([]cognito.PoolInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: "ListUserPools"})
	var out []cognito.PoolInfo
	for _, id := range slices.Sorted(maps.Keys(s.pools)) {
		p := s.pools[id]
		if strings.HasPrefix(p.opts.Name, prefix) {
			s.calls = append(s.calls, Call{Op: "DescribeUserPool", Pool: id})
			out = append(out, cognito.PoolInfo{ID: id, Name: p.opts.Name, Created: p.created, Tags: maps.Clone(p.opts.Tags)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
