package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/idmirror/idmirror/drill"
	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/security"
)

const drillUsage = `drill --table T --source-pool POOL_ID [--sample N] [--keep] [--deep=false] [--json] [--report FILE]

Proves a restore before the incident, on the real pool's data, without touching the real pool: creates a scratch
pool (tagged idmirror:drill=true, named idmirror-drill-...) from the mirrored configuration, restores the mirror
into it with --password-mode suppress (no message is ever sent), verifies it field by field (with --deep, the
default, SMS MFA too), deletes it (unless --keep), and reports users and memberships restored, differences, the
wall time (the measured RTO for this pool at the account's quotas) with each phase's share, and an RPO estimate
(the pool's changes the mirror does not hold yet). It never writes to the source pool, writes nothing to the
mirror (restore's links go to the report), and raises one security event, "drill ran". After a failure or an
interrupt it deletes its scratch pool; at its start it deletes the tagged pools of earlier drills.

--sample N drills a uniform random sample of N live users (each with all its memberships; every group definition
is restored): for pools too large to drill whole in the time you have.

Exit codes: 0 passed, 7 the scratch pool differs from the mirror, 6 some users could not be restored,
1 failed, 2 bad usage, 130 interrupted (the scratch pool is deleted).

Example:
  idmirror drill --table idmirror --source-pool eu-west-1_AbC --report drill.json`

func runDrill(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "drill", drillUsage)
	table := fs.String("table", "", "the mirror table (required)")
	source := fs.String("source-pool", "", "the pool to drill (read only; required)")
	sample := fs.Int("sample", 0, "drill a random sample of this many users (0: every user)")
	seed := fs.Uint64("seed", 0, "seed of the sample (0: random)")
	keep := fs.Bool("keep", false, "leave the scratch pool in place")
	deep := fs.Bool("deep", true, "verify SMS MFA too (AdminGetUser per user, at UserRead pace)")
	concurrency := fs.Int("concurrency", 16, "users in progress at once")
	reportFile := fs.String("report", "", "also write the full report (with every user's result) as JSON to this file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pace := pacingFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := pace.parse(); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table, "source-pool": *source}); err != nil {
		return err
	}
	if *sample < 0 || *concurrency < 1 {
		return usageError{"--sample must be 0 or more and --concurrency at least 1"}
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	adapter := pace.adapter(a, cfg)
	d := drill.New(deps.Mirror(cfg, *table, a.log), adapter, adapter.Pacer().Stats, security.New(a.log, nil, "cli"), a.log)
	rep, err := d.Run(ctx, drill.Options{SourcePool: *source, Sample: *sample, Seed: *seed, Keep: *keep, Deep: *deep, Concurrency: *concurrency})
	if rep != nil {
		if werr := writeReport(*reportFile, rep); werr != nil {
			return werr
		}
		if *asJSON {
			summary := *rep
			summary.Users = nil // per-user results: in --report
			if perr := printJSON(a.stdout, summary); perr != nil {
				return perr
			}
		} else {
			printDrill(a.stdout, rep)
		}
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted; the scratch pool was deleted (or the next drill deletes it): %w", ctx.Err())
	case errors.Is(err, drill.ErrDifferences):
		return codedError{exitDiffers, hintError{err, "the restore would not bring the pool back as mirrored: see the differences (--report), fix, drill again"}}
	case errors.Is(err, drill.ErrRestoreFailures):
		return codedError{exitPartial, hintError{err, "see the users' errors in --report"}}
	}
	return poolError(err)
}

func printDrill(w io.Writer, rep *drill.Report) {
	fmt.Fprintf(w, "drill of %s into scratch pool %s", rep.SourcePool, rep.ScratchPool)
	if rep.Kept {
		fmt.Fprint(w, " (kept)")
	}
	fmt.Fprintln(w)
	for _, p := range rep.Cleaned {
		fmt.Fprintf(w, "  deleted leftover scratch pool %s\n", p)
	}
	fmt.Fprintf(w, "  users: %d mirrored, %d drilled, %d restored; memberships restored %d; groups %d\n",
		rep.MirroredUsers, rep.Sampled, rep.UsersRestored, rep.MembershipsRestored, rep.Groups)
	if rep.Verify != nil {
		for _, d := range rep.Verify.Differences {
			fmt.Fprintf(w, "  DIFF %s\n", d)
		}
		if n := len(rep.Verify.NotCarried); n > 0 {
			fmt.Fprintf(w, "  %d cannot be carried over (TOTP, federated, unconfirmed; see --report)\n", n)
		}
	}
	fmt.Fprintf(w, "  differences: %d\n", rep.Differences)
	fmt.Fprintf(w, "  wall time %s, RTO estimate %s (create pool + restore + verify)\n", rep.WallTime.Round(time.Millisecond), rep.RTO.Round(time.Millisecond))
	for _, p := range rep.Phases {
		fmt.Fprintf(w, "    %-16s %10s  %5.1f%%\n", p.Name, p.Took.Round(time.Millisecond), 100*p.Share)
	}
	r := rep.RPO
	fmt.Fprintf(w, "  RPO estimate %s: %d users changed in the pool since the mirror's record of them; pool's newest change %s, mirror's %s\n",
		r.Estimate.Round(time.Second), r.UnmirroredUsers, r.PoolNewestChange.UTC().Format(time.RFC3339), r.MirrorNewestChange.UTC().Format(time.RFC3339))
	if rep.Error != "" {
		fmt.Fprintf(w, "  FAILED: %s\n", rep.Error)
	}
}
