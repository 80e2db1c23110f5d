package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/internal/deps"
)

const auditUsage = `audit SUBCOMMAND --table T --pool POOL_ID [flags] [--format text|csv|json]

Read-only answers from the mirror (docs/auditing.md lists the questions and the PartiQL for each):
  members --role R | --group G [--as-of T]        who holds a role / is in a group, with since-when
  user USERNAME|SUB|EMAIL [--history]             a user's state (or tombstone) and every change
  changes --since T [--until T] [--source S] [--field F]   every change in a window
  export [--as-of T]                              the whole pool as of an instant
  integrity [--pool P] [--json] [--digest-out F] [--digest-in F]   the journal against the table (exit 7 on a finding)

Times are RFC 3339 (2026-09-30T23:59:59Z) or a date (2026-09-30, midnight UTC).

Examples:
  idmirror audit members --table idmirror --pool eu-west-1_AbC --role admin --as-of 2026-06-30
  idmirror audit changes --table idmirror --pool eu-west-1_AbC --since 2026-07-01 --until 2026-09-30 --field groups --format csv
  idmirror audit export --table idmirror --pool eu-west-1_AbC --as-of 2026-06-30 --format json > pool-2026-06-30.json`

// auditCommand is one audit subcommand. Each has its own flag set (the
// common --table, --pool and --format, and its own flags), so a flag of
// another subcommand is a usage error rather than silently ignored.
type auditCommand struct {
	name  string
	usage string
	// arg names the subcommand's one positional argument ("": none).
	arg string
	// flags defines the subcommand's own flags and returns what runs it.
	flags func(fs *flag.FlagSet) auditRun
}

// auditRun runs a subcommand once its flags are parsed and checked.
type auditRun func(ctx context.Context, a *app, q auditQuery) error

// auditQuery is what every audit subcommand gets.
type auditQuery struct {
	table, pool string
	format      string
	arg         string // the positional argument
	// auditor builds the auditor: after the subcommand has checked its
	// flags, so a usage error needs no AWS configuration.
	auditor func(ctx context.Context) (*audit.Auditor, error)
}

func auditCommands() []auditCommand {
	return []auditCommand{
		{"members", "audit members --table T --pool POOL_ID (--role R | --group G) [--as-of T] [--format text|csv|json]", "", auditMembers},
		{"user", "audit user USERNAME|SUB|EMAIL --table T --pool POOL_ID [--history] [--format text|csv|json]", "USERNAME|SUB|EMAIL", auditUser},
		{"changes", "audit changes --table T --pool POOL_ID --since T [--until T] [--source S] [--field F] [--actor ARN-or-part] [--format text|csv|json]", "", auditChanges},
		{"export", "audit export --table T --pool POOL_ID [--as-of T] [--format text|csv|json]", "", auditExport},
	}
}

func runAudit(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{"usage: idmirror " + auditUsage}
	}
	if args[0] == "integrity" {
		return runIntegrity(ctx, a, args[1:])
	}
	for _, c := range auditCommands() {
		if c.name == args[0] {
			return c.run(ctx, a, args[1:])
		}
	}
	return usageError{fmt.Sprintf("unknown audit subcommand %q: members, user, changes, export or integrity", args[0])}
}

// flagSet returns the subcommand's flag set and what runs it.
func (c auditCommand) flagSet(a *app) (*flag.FlagSet, *auditQuery, auditRun) {
	fs := newFlags(a, "audit "+c.name, c.usage)
	q := &auditQuery{}
	fs.StringVar(&q.table, "table", "", "the mirror table (required)")
	fs.StringVar(&q.pool, "pool", "", "the user pool id (required)")
	fs.StringVar(&q.format, "format", "text", "text, csv or json")
	return fs, q, c.flags(fs)
}

func (c auditCommand) run(ctx context.Context, a *app, args []string) error {
	fs, q, run := c.flagSet(a)
	if c.arg != "" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		q.arg, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		if other := c.flagOfOther(a, err); other != "" {
			return usageError{fmt.Sprintf("%v (a flag of %s, not of audit %s)", err, other, c.name)}
		}
		return err
	}
	if c.arg != "" && q.arg == "" {
		return usageError{"usage: idmirror " + c.usage}
	}
	if err := required(map[string]string{"table": q.table, "pool": q.pool}); err != nil {
		return err
	}
	if q.format != "text" && q.format != "csv" && q.format != "json" {
		return usageError{"--format must be text, csv or json"}
	}
	q.auditor = func(ctx context.Context) (*audit.Auditor, error) {
		cfg, err := a.config(ctx)
		if err != nil {
			return nil, err
		}
		return audit.New(deps.Mirror(cfg, q.table, a.log)), nil
	}
	return run(ctx, a, *q)
}

// flagOfOther names the other audit subcommands that define the flag err
// says is not defined here ("" if none or another error).
func (c auditCommand) flagOfOther(a *app, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return ""
	}
	name = strings.TrimPrefix(name, "-")
	var owners []string
	for _, o := range auditCommands() {
		if fs, _, _ := o.flagSet(a); o.name != c.name && fs.Lookup(name) != nil {
			owners = append(owners, "audit "+o.name)
		}
	}
	return strings.Join(owners, ", ")
}

func auditMembers(fs *flag.FlagSet) auditRun {
	role := fs.String("role", "", "the role")
	group := fs.String("group", "", "the group")
	asOfFlag := fs.String("as-of", "", "the instant to answer for (default: now)")
	return func(ctx context.Context, a *app, q auditQuery) error {
		asOf, err := parseInstant("as-of", *asOfFlag)
		if err != nil {
			return err
		}
		aud, err := q.auditor(ctx)
		if err != nil {
			return err
		}
		rows, warning, err := aud.Members(ctx, audit.MembersQuery{PoolID: q.pool, Role: *role, Group: *group, AsOf: asOf})
		if errors.Is(err, idmirror.ErrInvalid) {
			return usageError{err.Error()}
		}
		if err != nil {
			return err
		}
		if warning != "" {
			fmt.Fprintln(a.stderr, "warning:", warning)
		}
		w := newRowWriter(a.stdout, q.format, audit.Member{}.Columns())
		for _, r := range rows {
			w.write(r, r.Values())
		}
		return w.close()
	}
}

func auditUser(fs *flag.FlagSet) auditRun {
	history := fs.Bool("history", false, "also every change")
	return func(ctx context.Context, a *app, q auditQuery) error {
		aud, err := q.auditor(ctx)
		if err != nil {
			return err
		}
		v, err := aud.FindUser(ctx, q.pool, q.arg, *history)
		if errors.Is(err, idmirror.ErrNotFound) {
			return hintError{err, "check --pool; names and emails are compared as stored (emails without case)"}
		}
		if err != nil {
			return err
		}
		return printUser(a.stdout, q.format, v)
	}
}

func auditChanges(fs *flag.FlagSet) auditRun {
	since := fs.String("since", "", "start of the window (required)")
	until := fs.String("until", "", "end of the window (default: now)")
	source := fs.String("source", "", "only this source (trigger, sync, event, restore)")
	field := fs.String("field", "", "only this field (groups, enabled, email, …)")
	actor := fs.String("actor", "", "only changes made by this actor: an ARN or part of one, a principal id, an access key id or a restore run id")
	return func(ctx context.Context, a *app, q auditQuery) error {
		from, err := parseInstant("since", *since)
		if err != nil {
			return err
		}
		if from.IsZero() {
			return usageError{"changes needs --since"}
		}
		to, err := parseUntil("until", *until)
		if err != nil {
			return err
		}
		if *source != "" && !idmirror.Source(*source).Valid() {
			return usageError{"--source must be trigger, sync, event or restore"}
		}
		aud, err := q.auditor(ctx)
		if err != nil {
			return err
		}
		w := newRowWriter(a.stdout, q.format, audit.ChangeRow{}.Columns())
		err = aud.Changes(ctx, idmirror.ChangeQuery{PoolID: q.pool, From: from, To: to, Source: idmirror.Source(*source)}, *field, *actor, func(r audit.ChangeRow) error {
			w.write(r, r.Values())
			return w.err
		})
		if err != nil {
			return err
		}
		return w.close()
	}
}

func auditExport(fs *flag.FlagSet) auditRun {
	asOfFlag := fs.String("as-of", "", "the instant to export (default: now)")
	return func(ctx context.Context, a *app, q auditQuery) error {
		asOf, err := parseInstant("as-of", *asOfFlag)
		if err != nil {
			return err
		}
		aud, err := q.auditor(ctx)
		if err != nil {
			return err
		}
		w := newRowWriter(a.stdout, q.format, audit.ExportRow{}.Columns())
		err = aud.Export(ctx, q.pool, asOf, func(r audit.ExportRow) error {
			w.write(r, r.Values())
			return w.err
		})
		if err != nil {
			return err
		}
		return w.close()
	}
}

// parseInstant reads RFC 3339 or a bare date (midnight UTC).
func parseInstant(flag, s string) (time.Time, error) {
	return parseBound(flag, s, false)
}

// parseUntil reads the end of a window: a date alone means the whole of that
// day (--until 2026-09-30 includes the 30th), an instant means itself.
func parseUntil(flag, s string) (time.Time, error) { return parseBound(flag, s, true) }

func parseBound(flag, s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if endOfDay {
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		return t, nil
	}
	return time.Time{}, usageError{fmt.Sprintf("--%s %q: want RFC 3339 (2026-09-30T23:59:59Z) or a date (2026-09-30)", flag, s)}
}

// csvSafe neutralises a cell a spreadsheet would run as a formula (OWASP's
// CSV injection rule: a leading =, +, -, @, tab or carriage return gets a
// leading quote). Standard attributes are user-writable, so a user could plant
// one. A value that is exactly an E.164 phone number (+ and digits) stays.
func csvSafe(v string) string {
	if v == "" || !strings.ContainsRune("=+-@\t\r", rune(v[0])) || e164.MatchString(v) {
		return v
	}
	return "'" + v
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// rowWriter streams rows as a text table, CSV (with a header) or a JSON array.
type rowWriter struct {
	format string
	w      io.Writer
	csv    *csv.Writer
	tw     *tabwriter.Writer
	n      int
	err    error
}

func newRowWriter(w io.Writer, format string, cols []string) *rowWriter {
	rw := &rowWriter{format: format, w: w}
	switch format {
	case "csv":
		rw.csv = csv.NewWriter(w)
		rw.err = rw.csv.Write(cols)
	case "json":
		_, rw.err = io.WriteString(w, "[")
	default:
		rw.tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		_, rw.err = fmt.Fprintln(rw.tw, strings.ToUpper(strings.Join(cols, "\t")))
	}
	return rw
}

func (rw *rowWriter) write(v any, values []string) {
	if rw.err != nil {
		return
	}
	switch rw.format {
	case "csv":
		safe := make([]string, len(values))
		for i, v := range values {
			safe[i] = csvSafe(v)
		}
		rw.err = rw.csv.Write(safe)
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			rw.err = err
			return
		}
		sep := ",\n"
		if rw.n == 0 {
			sep = "\n"
		}
		_, rw.err = io.WriteString(rw.w, sep+string(b))
	default:
		_, rw.err = fmt.Fprintln(rw.tw, strings.Join(values, "\t"))
		if rw.n%1000 == 999 {
			rw.err = rw.tw.Flush() // keep memory flat on long answers
		}
	}
	rw.n++
}

func (rw *rowWriter) close() error {
	if rw.err != nil {
		return rw.err
	}
	switch rw.format {
	case "csv":
		rw.csv.Flush()
		return rw.csv.Error()
	case "json":
		_, err := io.WriteString(rw.w, "\n]\n")
		return err
	}
	return rw.tw.Flush()
}

func printUser(w io.Writer, format string, v audit.UserView) error {
	r := v.Record
	var history []audit.ChangeRow
	for _, h := range v.History {
		history = append(history, audit.ChangeRows(h.Change, "")...)
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"user": r.User, "version": r.Version, "observed_at": r.ObservedAt, "source": r.Source,
			"member_since": r.Memberships, "granted": v.Grants, "history": history})
	case "csv":
		rw := newRowWriter(w, "csv", audit.ChangeRow{}.Columns())
		for _, h := range history {
			rw.write(h, h.Values())
		}
		return rw.close()
	}
	state := "live"
	if r.Deleted {
		state = "DELETED (tombstone: last known state below)"
	}
	fmt.Fprintf(w, "user      %s (%s)\nsub       %s\nstatus    %s, enabled=%v\ngroups    %v\nmfa       %s\n", r.Username, state, r.Sub, r.Status, r.Enabled, r.Groups, r.MFA.String())
	if r.Origin != "" {
		fmt.Fprintf(w, "origin    %s\n", r.Origin)
	}
	fmt.Fprintf(w, "mirrored  version %d, observed %s by %s\n", r.Version, r.ObservedAt.UTC().Format(time.RFC3339), r.Source)
	for _, g := range v.Grants {
		who := g.Actor.String()
		if who == "" {
			who = "unknown"
		}
		fmt.Fprintf(w, "granted   %s at %s by %s (%s)\n", g.Group, g.GrantedAt.UTC().Format(time.RFC3339), who, g.Source)
	}
	for _, k := range sortedAttrNames(r.Attributes) {
		fmt.Fprintf(w, "  %-24s %s\n", k, r.Attributes[k])
	}
	if len(history) > 0 {
		fmt.Fprintln(w)
		rw := newRowWriter(w, "text", []string{"time", "source", "field", "before", "after", "actor"})
		for _, h := range history {
			rw.write(h, []string{h.Time, h.Source, h.Field, h.Before, h.After, h.Actor})
		}
		return rw.close()
	}
	return nil
}

func sortedAttrNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
