package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/security"
	idsync "github.com/idmirror/idmirror/sync"
)

const syncUsage = `sync --table T --pool POOL_ID [--repair] [--deep] [--report FILE] [--json]

Compares the user pool with the mirror and reports the drift; --repair writes it.
Exit codes: 0 in sync (or repaired), 3 drift found (without --repair),
4 the safety valve refused to tombstone that many users, 5 the pool does not exist,
6 some users could not be reconciled (the others were; see the report's failed list).

Examples:
  idmirror sync --table idmirror --pool eu-west-1_AbC             # drift report
  idmirror sync --table idmirror --pool eu-west-1_AbC --repair    # and repair`

func runSync(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "sync", syncUsage)
	table := fs.String("table", "", "the mirror table (required)")
	pool := fs.String("pool", "", "the user pool id (required)")
	repair := fs.Bool("repair", false, "write the drift to the mirror (source sync)")
	deep := fs.Bool("deep", false, "also read each user with AdminGetUser (MFA preferences), at UserRead pace")
	allowMass := fs.Bool("allow-mass-tombstones", false, "tombstone however many users are gone from the pool")
	share := fs.Float64("max-tombstone-share", 0.2, "share of mirrored users one run may tombstone")
	roleMap := fs.String("role-map", "", "JSON file with the role map to record (default: keep the recorded one)")
	reportFile := fs.String("report", "", "also write the report as JSON to this file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pace := pacingFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := pace.parse(); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table, "pool": *pool}); err != nil {
		return err
	}
	// The role map is recorded only when given: the deployed one (the
	// reconcile Lambda's ROLE_MAP) stays in force otherwise.
	var roles *idmirror.RoleMap
	if *roleMap != "" {
		b, err := os.ReadFile(*roleMap)
		if err != nil {
			return hintError{err, "give --role-map a readable JSON file"}
		}
		m, err := idmirror.ParseRoleMap(b)
		if err != nil {
			return hintError{err, "fix the role map file"}
		}
		roles = &m
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	adapter := pace.adapter(a, cfg)
	store := deps.Mirror(cfg, *table, a.log)
	alerts := a.security()
	recorded := idmirror.DefaultRoleMap()
	if roles != nil {
		recorded = *roles
	}
	store.Observe(security.Watch(alerts, recorded))
	r := idsync.NewReconciler(adapter, store, a.log, adapter.Pacer().Stats, idsync.Options{
		Repair: *repair, Deep: *deep, AllowMassTombstones: *allowMass, MaxTombstoneShare: *share, RoleMap: roles,
	})
	rep, runErr := r.Run(ctx, *pool)
	idsync.Alert(alerts, a.stderr, rep)
	if *reportFile != "" {
		if err := writeJSONFile(*reportFile, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printSyncReport(a, rep, *repair)
	}
	switch {
	case errors.Is(runErr, idmirror.ErrPoolNotFound):
		return codedError{exitPoolGone, hintError{runErr, "check --pool; if the pool was lost, see docs/runbook-restore.md — nothing was tombstoned"}}
	case errors.Is(runErr, idsync.ErrMassTombstones):
		return codedError{exitRefused, hintError{runErr, "if the users really are gone, re-run with --allow-mass-tombstones"}}
	case errors.Is(runErr, idsync.ErrUserFailures):
		return codedError{exitPartial, hintError{runErr, "the report's failed list names each user and why; every other user was reconciled"}}
	case runErr != nil:
		return runErr
	case !rep.InSync() && !*repair:
		return codedError{exitDrift, fmt.Errorf("%d differences between pool %s and the mirror", len(rep.Drift), *pool)}
	}
	return nil
}

func printSyncReport(a *app, rep *idsync.Report, repair bool) {
	fmt.Fprintf(a.stdout, "pool %s: %d users, %d groups, %d memberships; %d live users in the mirror\n",
		rep.PoolID, rep.Users, rep.Groups, rep.Memberships, rep.Mirrored)
	fmt.Fprintf(a.stdout, "%d Cognito calls (%d throttled) in %s\n", rep.Calls, rep.Throttled, rep.FinishedAt.Sub(rep.StartedAt).Round(1e6))
	if rep.InSync() {
		fmt.Fprintln(a.stdout, "in sync")
		return
	}
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tKEY\tNAME\tFIELDS")
	for _, d := range rep.Drift {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Kind, d.Key, d.Name, fieldSummary(d.Fields))
	}
	tw.Flush()
	if repair {
		fmt.Fprintf(a.stdout, "repaired %d\n", rep.Repaired)
	}
	if rep.Refused != "" {
		fmt.Fprintln(a.stdout, "refused:", rep.Refused)
	}
}

// fieldSummary names the changed fields; values are left out (they may be
// personal data, and this output goes to terminals and CI logs).
func fieldSummary(f map[string]idmirror.FieldChange) string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
