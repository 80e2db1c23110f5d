package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/mirror"
)

const auditUsage = `audit SUBCOMMAND --table T --pool POOL_ID [flags] [--format text|csv|json]

Read-only answers from the mirror (docs/auditing.md lists the questions and the PartiQL for each):
  members --role R | --group G [--as-of T]        who holds a role / is in a group, with since-when
  user USERNAME|SUB|EMAIL [--history]             a user's state (or tombstone) and every change
  changes --since T [--until T] [--source S] [--field F]   every change in a window
  export [--as-of T]                              the whole pool as of an instant

Times are RFC 3339 (2026-09-30T23:59:59Z) or a date (2026-09-30, midnight UTC).

Examples:
  idmirror audit members --table idmirror --pool eu-west-1_AbC --role admin --as-of 2026-06-30
  idmirror audit changes --table idmirror --pool eu-west-1_AbC --since 2026-07-01 --until 2026-09-30 --field groups --format csv
  idmirror audit export --table idmirror --pool eu-west-1_AbC --as-of 2026-06-30 --format json > pool-2026-06-30.json`

func runAudit(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{"usage: idmirror " + auditUsage}
	}
	sub, args := args[0], args[1:]
	fs := newFlags(a, "audit "+sub, auditUsage)
	table := fs.String("table", "", "the mirror table (required)")
	pool := fs.String("pool", "", "the user pool id (required)")
	format := fs.String("format", "text", "text, csv or json")
	asOfFlag := fs.String("as-of", "", "the instant to answer for (default: now)")
	role := fs.String("role", "", "members: the role")
	group := fs.String("group", "", "members: the group")
	history := fs.Bool("history", false, "user: also every change")
	since := fs.String("since", "", "changes: start of the window (required)")
	until := fs.String("until", "", "changes: end of the window (default: now)")
	source := fs.String("source", "", "changes: only this source (trigger, sync, event, restore)")
	field := fs.String("field", "", "changes: only this field (groups, enabled, email, …)")

	var who string
	if sub == "user" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		who, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table, "pool": *pool}); err != nil {
		return err
	}
	if *format != "text" && *format != "csv" && *format != "json" {
		return usageError{"--format must be text, csv or json"}
	}
	asOf, err := parseInstant("as-of", *asOfFlag)
	if err != nil {
		return err
	}
	cfg, err := a.awsConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	aud := audit.New(mirror.New(mirror.NewClient(cfg), *table, a.log))

	switch sub {
	case "members":
		rows, warning, err := aud.Members(ctx, audit.MembersQuery{PoolID: *pool, Role: *role, Group: *group, AsOf: asOf})
		if errors.Is(err, idmirror.ErrInvalid) {
			return usageError{err.Error()}
		}
		if err != nil {
			return err
		}
		if warning != "" {
			fmt.Fprintln(a.stderr, "warning:", warning)
		}
		w := newRowWriter(a.stdout, *format, audit.Member{}.Columns())
		for _, r := range rows {
			w.write(r, r.Values())
		}
		return w.close()
	case "user":
		if who == "" {
			return usageError{"usage: idmirror audit user USERNAME|SUB|EMAIL --table T --pool P [--history]"}
		}
		v, err := aud.FindUser(ctx, *pool, who, *history)
		if errors.Is(err, idmirror.ErrNotFound) {
			return hintError{err, "check --pool; names and emails are compared as stored (emails without case)"}
		}
		if err != nil {
			return err
		}
		return printUser(a.stdout, *format, v)
	case "changes":
		from, err := parseInstant("since", *since)
		if err != nil {
			return err
		}
		if from.IsZero() {
			return usageError{"changes needs --since"}
		}
		to, err := parseInstant("until", *until)
		if err != nil {
			return err
		}
		if *source != "" && !idmirror.Source(*source).Valid() {
			return usageError{"--source must be trigger, sync, event or restore"}
		}
		w := newRowWriter(a.stdout, *format, audit.ChangeRow{}.Columns())
		err = aud.Changes(ctx, idmirror.ChangeQuery{PoolID: *pool, From: from, To: to, Source: idmirror.Source(*source)}, *field, func(r audit.ChangeRow) error {
			w.write(r, r.Values())
			return w.err
		})
		if err != nil {
			return err
		}
		return w.close()
	case "export":
		w := newRowWriter(a.stdout, *format, audit.ExportRow{}.Columns())
		err := aud.Export(ctx, *pool, asOf, func(r audit.ExportRow) error {
			w.write(r, r.Values())
			return w.err
		})
		if err != nil {
			return err
		}
		return w.close()
	}
	return usageError{fmt.Sprintf("unknown audit subcommand %q: members, user, changes or export", sub)}
}

// parseInstant reads RFC 3339 or a bare date (midnight UTC).
func parseInstant(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Sprintf("--%s %q: want RFC 3339 (2026-09-30T23:59:59Z) or a date (2026-09-30)", flag, s)}
}

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
		rw.err = rw.csv.Write(values)
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
			"member_since": r.Memberships, "history": history})
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
	for _, k := range sortedAttrNames(r.Attributes) {
		fmt.Fprintf(w, "  %-24s %s\n", k, r.Attributes[k])
	}
	if len(history) > 0 {
		fmt.Fprintln(w)
		rw := newRowWriter(w, "text", []string{"time", "source", "field", "before", "after"})
		for _, h := range history {
			rw.write(h, []string{h.Time, h.Source, h.Field, h.Before, h.After})
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
