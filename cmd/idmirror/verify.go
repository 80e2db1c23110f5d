package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/verify"
)

const verifyUsage = `verify --table T --source-pool OLD_POOL_ID --target-pool NEW_POOL_ID [--as-of RFC3339]
         [--legacy-sub-attribute custom:NAME] [--by-name] [--deep] [--json] [--report FILE]

Compares a restored pool with the mirror as of the instant the restore used (--as-of; default now), field by
field: users (matched by the mirror's origin link, the legacy-sub attribute, or with --by-name the sign-in name),
their attributes, enabled state and status class (CONFIRMED, FORCE_CHANGE_PASSWORD and RESET_REQUIRED are one
class: a restore cannot carry passwords; UNCONFIRMED is its own), the groups and their definitions, and the
memberships. TOTP, federated users and users that never finished signing up are listed as "cannot be carried
over", not as differences. Reads are paged (ListUsers, ListGroups, ListUsersInGroup); --deep also compares the
SMS MFA preference with one AdminGetUser per user, at UserRead pace. Writes nothing.

Exit codes: 0 the pool is what the mirror promised, 7 differences found (each names the user or group and the
field), 1 failed, 2 bad usage, 5 a pool does not exist, 130 interrupted.

Example:
  idmirror verify --table idmirror --source-pool eu-west-1_Old --target-pool eu-west-1_New --deep --report verify.json`

func runVerify(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "verify", verifyUsage)
	table := fs.String("table", "", "the mirror table (required)")
	source := fs.String("source-pool", "", "the pool id the restore read from the mirror (required)")
	target := fs.String("target-pool", "", "the restored pool (required)")
	asOfFlag := fs.String("as-of", "", "the instant the restore used (RFC 3339; default now)")
	legacy := fs.String("legacy-sub-attribute", "", "custom attribute holding each restored user's old sub")
	byName := fs.Bool("by-name", false, "also match users by sign-in name (a scratch pool nobody else writes to)")
	deep := fs.Bool("deep", false, "also compare SMS MFA (AdminGetUser per user, at UserRead pace)")
	reportFile := fs.String("report", "", "also write the report as JSON to this file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pace := pacingFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := pace.parse(); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table, "source-pool": *source, "target-pool": *target}); err != nil {
		return err
	}
	var asOf time.Time
	if *asOfFlag != "" {
		var err error
		if asOf, err = time.Parse(time.RFC3339, *asOfFlag); err != nil {
			return usageError{fmt.Sprintf("--as-of %q: want RFC 3339, like 2026-11-20T08:00:00Z", *asOfFlag)}
		}
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	adapter := pace.adapter(a, cfg)
	v := verify.New(deps.Mirror(cfg, *table, a.log), adapter, adapter.Pacer().Stats, a.log)
	rep, err := v.Run(ctx, verify.Options{SourcePool: *source, TargetPool: *target, AsOf: asOf, ByName: *byName,
		LegacySubAttribute: *legacy, Deep: *deep})
	if err != nil {
		return poolError(err)
	}
	if err := writeReport(*reportFile, rep); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(a.stdout, rep); err != nil {
			return err
		}
	} else {
		printVerify(a.stdout, rep)
	}
	return verifyOutcome(rep)
}

func verifyOutcome(rep *verify.Report) error {
	if rep.Equal() {
		return nil
	}
	return codedError{exitDiffers, hintError{fmt.Errorf("%d differences between pool %s and the mirror of %s", len(rep.Differences), rep.TargetPool, rep.SourcePool),
		"each names the user or group and the field; re-run the restore (it is safe to re-run) and verify again, or see docs/runbook-restore.md"}}
}

func printVerify(w io.Writer, rep *verify.Report) {
	fmt.Fprintf(w, "verify: %s against the mirror of %s as of %s\n", rep.TargetPool, rep.SourcePool, rep.AsOf.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  users: %d expected, %d in the pool, %d matched; groups %d; memberships %d\n", rep.Expected, rep.Users, rep.Matched, rep.Groups, rep.Memberships)
	for _, d := range rep.Differences {
		fmt.Fprintf(w, "  DIFF %s\n", d)
	}
	for _, n := range rep.NotCarried {
		fmt.Fprintf(w, "  cannot be carried over: %s: %s\n", n.User, n.Reason)
	}
	verdict := "equal"
	if !rep.Equal() {
		verdict = fmt.Sprintf("%d differences", len(rep.Differences))
	}
	fmt.Fprintf(w, "  %s; %d Cognito calls (%d throttled) in %s\n", verdict, rep.Calls, rep.Throttled, rep.Took.Round(time.Millisecond))
}

// poolError maps a missing pool to its exit code.
func poolError(err error) error {
	switch {
	case errors.Is(err, idmirror.ErrPoolNotFound):
		return codedError{exitPoolGone, hintError{err, "check the pool ids (aws cognito-idp list-user-pools --max-results 60)"}}
	case errors.Is(err, idmirror.ErrInvalid):
		return usageError{err.Error()}
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeReport writes v as JSON to path ("" = nowhere), readable by its owner
// only: reports name users.
func writeReport(path string, v any) error {
	if path == "" {
		return nil
	}
	if err := writeJSONFile(path, v); err != nil {
		return hintError{err, "give --report a writable path"}
	}
	return nil
}
