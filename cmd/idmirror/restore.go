package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	gosync "sync"
	"time"

	"golang.org/x/term"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/deps"
	"github.com/idmirror/idmirror/restore"
	"github.com/idmirror/idmirror/security"
)

const restoreUsage = `restore --table T --source-pool OLD_POOL_ID --target-pool NEW_POOL_ID --password-mode invite|reset|suppress
         [--as-of RFC3339] [--dry-run] [--yes] [--legacy-sub-attribute custom:NAME] [--user USERNAME ...]
         [--adopt USERNAME ...] [--allow-open-signup] [--concurrency N] [--report FILE] [--json]

Rebuilds a user pool from the mirror: groups, then users (attributes, enabled state, memberships,
SMS MFA preference). The target pool must exist, and only administrators may create users in it
(close self sign-up until the restore is done, or --allow-open-signup). An account already in the
target under a restored user's name is reconciled only if restore can prove it is that user's (same
sub, the mirror's link, the same identity-provider identity, or one restore created); any other is a
conflict: left alone and reported — delete it and run again, or --adopt it on purpose.
Safe to re-run: a second run changes nothing, a killed run finishes when run again.
See docs/runbook-restore.md.

Password modes (Cognito cannot export passwords; there is no default):
  invite    Cognito sends each enabled user an invitation with a temporary password
  reset     a random password, then a reset: users set a new one with a code sent to their verified email/phone
  suppress  no message; ops hand out access (AdminSetUserPassword)

Exit codes: 0 done, 1 failed before writing (preflight) or on an error, 2 bad usage,
6 some users could not be restored or are conflicts (see --report), 130 interrupted (re-run to finish).

Examples:
  idmirror restore --table idmirror --source-pool eu-west-1_Old --target-pool eu-west-1_New --dry-run
  idmirror restore --table idmirror --source-pool eu-west-1_Old --target-pool eu-west-1_New --password-mode reset --yes
  idmirror restore --table idmirror --source-pool eu-west-1_AbC --target-pool eu-west-1_AbC --user alice --password-mode reset`

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runRestore(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "restore", restoreUsage)
	table := fs.String("table", "", "the mirror table (required)")
	source := fs.String("source-pool", "", "the pool id whose mirror to restore from (required)")
	target := fs.String("target-pool", "", "the existing pool to restore into (required)")
	asOfFlag := fs.String("as-of", "", "restore the pool as it was at this instant (RFC 3339, e.g. 2026-11-20T08:00:00Z)")
	dryRun := fs.Bool("dry-run", false, "print the plan and write nothing")
	yes := fs.Bool("yes", false, "do not ask before writing")
	mode := fs.String("password-mode", "", "invite, reset or suppress (required to write)")
	legacy := fs.String("legacy-sub-attribute", "", "custom attribute that receives each user's old sub")
	var users, adopt stringList
	fs.Var(&users, "user", "restore only this user: a username, or sub:SUB for one mirrored account (repeatable)")
	fs.Var(&adopt, "adopt", "take over the existing target account of this user although restore cannot prove it is theirs (repeatable; logged)")
	allowOpen := fs.Bool("allow-open-signup", false, "write into a target where users can sign themselves up (then only the sub, the mirror's link or an IdP identity prove an existing account)")
	concurrency := fs.Int("concurrency", 16, "users in progress at once")
	reportFile := fs.String("report", "", "write every user's result (JSON lines) and the summary to this file")
	asJSON := fs.Bool("json", false, "JSON lines on stdout (also the default without a terminal)")
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
		t, err := time.Parse(time.RFC3339, *asOfFlag)
		if err != nil {
			return usageError{fmt.Sprintf("--as-of %q: want RFC 3339, like 2026-11-20T08:00:00Z", *asOfFlag)}
		}
		asOf = t
	}
	if !*dryRun {
		if *mode == "" {
			return usageError{"--password-mode is required to write: invite, reset or suppress (idmirror restore -h explains each)"}
		}
		if _, err := restore.ParsePasswordMode(*mode); err != nil {
			return usageError{err.Error()}
		}
	}
	if *concurrency < 1 {
		return usageError{"--concurrency must be at least 1"}
	}
	jsonOut := *asJSON || !isTerminal(os.Stdout)

	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	adapter := pace.adapter(a, cfg)
	store := deps.Mirror(cfg, *table, a.log)
	r := restore.New(store, adapter, adapter.Pacer().Stats, a.log)
	opt := restore.Options{SourcePool: *source, TargetPool: *target, AsOf: asOf, Users: users,
		PasswordMode: restore.PasswordMode(*mode), LegacySubAttribute: *legacy, Concurrency: *concurrency,
		Adopt: adopt, AllowOpenSignup: *allowOpen}
	if !*dryRun {
		// Who runs it, on every history item it writes; the run raises a
		// restore_ran security event and each role it grants a role_granted.
		opt.Actor = deps.Operator(ctx, cfg)
		fmt.Fprintf(a.stderr, "operator: %s\n", opt.Actor)
		alerts := a.security()
		r.SetSecurity(alerts)
		roles, err := store.RoleMapAsOf(ctx, *source, time.Now())
		if err != nil {
			roles = idmirror.DefaultRoleMap() // none recorded: the deployed default
		}
		store.Observe(security.Watch(alerts, roles))
	}

	var report io.Writer = io.Discard
	if *reportFile != "" {
		// The report names users and subs: readable by its owner only.
		f, err := os.OpenFile(*reportFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err == nil {
			err = f.Chmod(0o600) // a file that was there keeps its mode otherwise
		}
		if err != nil {
			return hintError{err, "give --report a writable path"}
		}
		defer f.Close()
		report = f
	}
	out := &resultWriter{w: a.stdout, report: report, json: jsonOut, clearLine: !jsonOut && isTerminal(os.Stderr)}

	if *dryRun {
		opt.OnUser = out.plan
		rep, err := r.DryRun(ctx, opt)
		if err != nil {
			return restoreError(err)
		}
		out.summary(rep)
		return nil
	}
	// Without --yes: the plan is made once, shown, confirmed, then applied.
	var plan *restore.Plan
	if !*yes {
		if !a.canAsk() {
			return hintError{errors.New("refusing to write without confirmation: no terminal to ask on"), "add --yes (after checking the plan with --dry-run)"}
		}
		if plan, err = r.Plan(ctx, opt); err != nil {
			return restoreError(err)
		}
		for _, up := range plan.Users {
			out.plan(up.Result())
		}
		out.summary(plan.Report())
		if !confirm(a, fmt.Sprintf("Restore %d users into pool %s with password mode %s?", len(plan.Users), *target, *mode)) {
			return errors.New("not confirmed; nothing written")
		}
	}

	prog := newProgress(a.stderr, isTerminal(os.Stderr))
	opt.OnStart = prog.start
	opt.OnUser = func(res restore.UserResult) {
		out.result(res)
		prog.done()
	}
	var rep *restore.Report
	if plan != nil {
		plan.SetCallbacks(opt.OnStart, opt.OnUser)
		rep, err = r.Apply(ctx, plan)
	} else {
		rep, err = r.Run(ctx, opt)
	}
	prog.finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: run the same command again to finish (it carries on where this one stopped): %w", ctx.Err())
		}
		return writtenError(restoreError(err), rep)
	}
	out.summary(rep)
	failed, conflicts := rep.Counts[restore.Failed], rep.Counts[restore.Conflict]
	switch {
	case conflicts > 0:
		return codedError{exitPartial, hintError{fmt.Errorf("%d users could not be restored and %d are conflicts: the target holds accounts under their names that restore cannot prove are theirs, left alone", failed, conflicts),
			"for each conflict, delete the account if it is not the user's (usernames cannot be renamed) and run again, or run again with --adopt USERNAME if it is; see docs/runbook-restore.md"}}
	case failed > 0:
		return codedError{exitPartial, hintError{fmt.Errorf("%d users could not be restored", failed), "see their errors in --report (or the output), fix, and run again"}}
	}
	return nil
}

// writtenError says what a run that failed after preflight had written.
func writtenError(err error, rep *restore.Report) error {
	if rep == nil || errors.Is(err, restore.ErrPreflight) {
		return err
	}
	users := 0
	for a, n := range rep.Counts {
		if a == restore.Create || a == restore.Update {
			users += n
		}
	}
	return hintError{fmt.Errorf("%w (before it: %d groups restored, %d users created or updated)", err, len(rep.Groups), users),
		"fix the cause and run the same command again: it carries on where this one stopped"}
}

// confirm asks a person to type yes.
func confirm(a *app, question string) bool {
	fmt.Fprintf(a.stderr, "%s Type yes to go on: ", question)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

func restoreError(err error) error {
	switch {
	case errors.Is(err, restore.ErrPreflight):
		return hintError{err, "nothing was written; fix the target pool (or the flags) and run again"}
	case errors.Is(err, idmirror.ErrInvalid):
		return usageError{err.Error()}
	}
	return err
}

// resultWriter prints results as text or JSON lines, and copies them to the report.
type resultWriter struct {
	mu     gosync.Mutex
	w      io.Writer
	report io.Writer
	json   bool
	// clearLine erases the progress bar (drawn on the same terminal) before a line.
	clearLine bool
}

func (o *resultWriter) plan(res restore.UserResult) {
	if res.Action == restore.InPlace {
		return
	}
	o.result(res)
}

func (o *resultWriter) result(res restore.UserResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line, _ := json.Marshal(res)
	fmt.Fprintln(o.report, string(line))
	if o.json {
		fmt.Fprintln(o.w, string(line))
		return
	}
	if res.Action == restore.InPlace {
		return
	}
	if o.clearLine {
		fmt.Fprint(o.w, "\r\x1b[K")
	}
	fmt.Fprintf(o.w, "%-8s %-30s %s", res.Action, res.Username, strings.Join(res.Steps, ", "))
	for _, n := range res.Notes {
		fmt.Fprintf(o.w, "  [%s]", n)
	}
	if res.Error != "" {
		fmt.Fprintf(o.w, "  ERROR: %s", res.Error)
	}
	fmt.Fprintln(o.w)
}

func (o *resultWriter) summary(rep *restore.Report) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line, _ := json.Marshal(map[string]any{"summary": rep})
	fmt.Fprintln(o.report, string(line))
	if o.json {
		fmt.Fprintln(o.w, string(line))
		return
	}
	verb := "restored"
	if rep.DryRun {
		verb = "plan"
	}
	fmt.Fprintf(o.w, "\n%s: %s -> %s as of %s\n", verb, rep.SourcePool, rep.TargetPool, rep.AsOf.UTC().Format(time.RFC3339))
	for _, g := range rep.Groups {
		fmt.Fprintf(o.w, "  group %-20s %s %s", g.Name, g.Action, strings.Join(g.Steps, ", "))
		for _, n := range g.Notes {
			fmt.Fprintf(o.w, "  [%s]", n)
		}
		fmt.Fprintln(o.w)
	}
	fmt.Fprintf(o.w, "  users: %d (create %d, update %d, in place %d, skip %d, conflict %d, failed %d)\n", rep.Users,
		rep.Counts[restore.Create], rep.Counts[restore.Update], rep.Counts[restore.InPlace], rep.Counts[restore.Skip], rep.Counts[restore.Conflict], rep.Counts[restore.Failed])
	for _, w := range rep.Warnings {
		fmt.Fprintf(o.w, "  warning: %s\n", w)
	}
	fmt.Fprintf(o.w, "  %d Cognito calls (%d throttled) in %s\n", rep.Calls, rep.Throttled, rep.FinishedAt.Sub(rep.StartedAt).Round(time.Millisecond))
}

// progress shows users/s and the ETA: a bar on a terminal, JSON lines otherwise.
type progress struct {
	mu          gosync.Mutex
	w           io.Writer
	tty         bool
	total, n    int
	began, last time.Time
}

func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

func (p *progress) start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.began = total, time.Now()
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if time.Since(p.last) < 500*time.Millisecond && p.n < p.total {
		return
	}
	p.last = time.Now()
	elapsed := time.Since(p.began).Seconds()
	rate := float64(p.n) / max(elapsed, 1e-3)
	eta := time.Duration(float64(p.total-p.n)/max(rate, 1e-3)) * time.Second
	if !p.tty {
		line, _ := json.Marshal(map[string]any{"progress": map[string]any{"done": p.n, "total": p.total, "users_per_s": round1(rate), "eta_s": int(eta.Seconds())}})
		fmt.Fprintln(p.w, string(line))
		return
	}
	width := 30
	fill := 0
	if p.total > 0 {
		fill = width * p.n / p.total
	}
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %d/%d  %.1f users/s  ETA %s ", strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.n, p.total, rate, eta.Round(time.Second))
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func round1(f float64) float64 { return float64(int(f*10)) / 10 }

// isTerminal reports a real terminal (not /dev/null, which is a character device too).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
