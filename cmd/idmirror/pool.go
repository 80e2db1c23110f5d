package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/deps"
)

const poolUsage = `pool create --table T --source-pool OLD_POOL_ID --name NAME [--no-groups] [--json]

Creates an empty user pool whose configuration matches what the mirror recorded for the source pool: custom
attributes and their mutability, username attributes and aliases, case sensitivity, MFA configuration (with the
recorded SMS role), password policy, auto-verified attributes, account recovery, admin-create-only, deletion
protection, the feature plan, and the groups' definitions. Then restore into it (docs/runbook-restore.md).
It prints what it cannot recreate (domains, app clients and their secrets, triggers, ...).

Example:
  idmirror pool create --table idmirror --source-pool eu-west-1_Old --name backoffice-restored`

// poolCreator is what pool create needs of the Cognito adapter.
type poolCreator interface {
	CreateUserPool(ctx context.Context, spec cognito.NewPoolSpec) (string, []string, error)
	CreateGroup(ctx context.Context, g idmirror.Group) error
}

// poolConfigSource is what pool create reads of the mirror.
type poolConfigSource interface {
	PoolConfig(ctx context.Context, pool string) (idmirror.PoolConfig, idmirror.Meta, error)
	Groups(ctx context.Context, pool string) ([]idmirror.GroupRecord, error)
	GroupAsOf(ctx context.Context, pool, name string, t time.Time) (idmirror.Group, error)
}

// poolCreated is what pool create reports.
type poolCreated struct {
	PoolID       string   `json:"pool_id"`
	Name         string   `json:"name"`
	Groups       []string `json:"groups"`
	Notes        []string `json:"notes,omitempty"`
	NotRecreated []string `json:"not_recreated"`
	NotLocally   []string `json:"not_stored_by_cognito_local"`
}

func runPool(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: idmirror " + poolUsage}
	}
	fs := newFlags(a, "pool create", poolUsage)
	table := fs.String("table", "", "the mirror table (required)")
	source := fs.String("source-pool", "", "the pool id whose recorded configuration to copy (required)")
	name := fs.String("name", "", "the new pool's name (required)")
	noGroups := fs.Bool("no-groups", false, "do not create the groups (restore creates them too)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table, "source-pool": *source, "name": *name}); err != nil {
		return err
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	out, err := createPool(ctx, deps.Mirror(cfg, *table, a.log), deps.Cognito(cfg, 0, nil), *source, *name, !*noGroups)
	if out != nil {
		if *asJSON {
			if perr := printJSON(a.stdout, out); perr != nil {
				return perr
			}
		} else {
			printPoolCreated(a, out)
		}
	}
	return err
}

// createPool creates the pool and its groups from the mirror.
func createPool(ctx context.Context, store poolConfigSource, pools poolCreator, source, name string, groups bool) (*poolCreated, error) {
	pc, _, err := store.PoolConfig(ctx, source)
	if errors.Is(err, idmirror.ErrNotFound) {
		return nil, hintError{fmt.Errorf("the mirror holds no configuration of pool %s", source), "check --source-pool and --table; a sync (idmirror sync --repair) records it"}
	}
	if err != nil {
		return nil, err
	}
	id, notes, err := pools.CreateUserPool(ctx, cognito.NewPoolSpec{Name: name, Config: pc})
	if err != nil {
		return nil, hintError{fmt.Errorf("create the pool: %w", err), "nothing was created; check the name (letters, digits, spaces and +=,.@-) and the permissions"}
	}
	out := &poolCreated{PoolID: id, Name: name, Groups: []string{}, Notes: notes, NotRecreated: cognito.NotRecreated, NotLocally: cognito.NotStoredLocally}
	if !groups {
		return out, nil
	}
	recs, err := store.Groups(ctx, source)
	if err != nil {
		return out, fmt.Errorf("pool %s created; read the mirror's groups: %w", id, err)
	}
	now := time.Now()
	for _, r := range recs {
		g, err := store.GroupAsOf(ctx, source, r.Name, now)
		if errors.Is(err, idmirror.ErrNotFound) || err == nil && g.Deleted {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("pool %s created; read group %s: %w", id, r.Name, err)
		}
		g.PoolID = id
		if err := pools.CreateGroup(ctx, g); err != nil && !errors.Is(err, idmirror.ErrExists) {
			return out, fmt.Errorf("pool %s created; create group %s: %w", id, g.Name, err)
		}
		out.Groups = append(out.Groups, g.Name)
	}
	return out, nil
}

func printPoolCreated(a *app, out *poolCreated) {
	fmt.Fprintf(a.stdout, "created pool %s (%s) with %d groups\n", out.PoolID, out.Name, len(out.Groups))
	for _, n := range out.Notes {
		fmt.Fprintf(a.stdout, "  note: %s\n", n)
	}
	fmt.Fprintln(a.stdout, "  not recreated (the mirror does not record them):")
	for _, n := range out.NotRecreated {
		fmt.Fprintf(a.stdout, "    - %s\n", n)
	}
	fmt.Fprintf(a.stdout, "  on the local stack, cognito-local also does not keep: %v\n", out.NotLocally)
}
