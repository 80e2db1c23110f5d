package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/internal/deps"
)

// exitTampered: audit integrity found items the journal does not vouch for.
const exitTampered = 7

const integrityUsage = `audit integrity --table T [--pool P] [--json] [--digest-out F] [--digest-in F]

Recomputes every entity's journal chain and checks every state item, history item and membership interval
against the journal's last record of it (docs/auditing.md, "Integrity"). Every edited, removed, reordered or
unjournaled item is reported by entity, kind and key, and the exit code is 7. The digest (each pool's chain
heads and their hash) is printed; keep it outside the account (--digest-out F, written only when the check is
clean) and give it back later (--digest-in F): every chain must still extend the heads recorded then, which
finds a tail rewritten by someone with write access to the table and entities deleted whole.

Examples:
  idmirror audit integrity --table idmirror --pool eu-west-1_AbC --digest-out digest-2026-11-29.json
  idmirror audit integrity --table idmirror --digest-in digest-2026-11-29.json --json`

// runIntegrity is `idmirror audit integrity`.
func runIntegrity(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "audit integrity", integrityUsage)
	table := fs.String("table", "", "the mirror table (required)")
	pool := fs.String("pool", "", "only this user pool (default: every pool in the table)")
	asJSON := fs.Bool("json", false, "print the reports as JSON")
	digestOut := fs.String("digest-out", "", "write the digest to this file (only when the check is clean)")
	digestIn := fs.String("digest-in", "", "a digest written earlier: every chain must still extend its heads")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table}); err != nil {
		return err
	}
	var prior *audit.Digest
	if *digestIn != "" {
		f, err := os.Open(*digestIn)
		if err != nil {
			return usageError{fmt.Sprintf("--digest-in: %v", err)}
		}
		d, err := audit.ReadDigest(f)
		f.Close()
		if errors.Is(err, idmirror.ErrInvalid) {
			return hintError{fmt.Errorf("--digest-in %s: %w", *digestIn, err), "use the file as --digest-out wrote it; a digest that does not hash to itself proves nothing"}
		}
		if err != nil {
			return fmt.Errorf("--digest-in %s: %w", *digestIn, err)
		}
		if d.Table != "" && d.Table != *table {
			return usageError{fmt.Sprintf("--digest-in %s is of table %s, not %s", *digestIn, d.Table, *table)}
		}
		prior = &d
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	at := time.Now()
	reps, err := audit.Integrity(ctx, deps.Mirror(cfg, *table, a.log), *pool, prior)
	if err != nil {
		return err
	}
	problems := 0
	for _, r := range reps {
		problems += len(r.Problems)
	}
	digest := audit.DigestOf(*table, at, reps)
	if *asJSON {
		err = printIntegrityJSON(a.stdout, *table, at, reps, digest)
	} else {
		err = printIntegrityText(a.stdout, reps)
	}
	if err != nil {
		return err
	}
	if problems > 0 {
		if *digestOut != "" {
			fmt.Fprintf(a.stderr, "not writing %s: a digest of a table that fails the check would vouch for it\n", *digestOut)
		}
		return codedError{exitTampered, hintError{fmt.Errorf("integrity: %d item(s) not as the journal records them", problems),
			"compare with the table restored from PITR to before the first reported write (docs/auditing.md, \"Integrity\")"}}
	}
	if *digestOut != "" {
		b, err := json.MarshalIndent(digest, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*digestOut, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("--digest-out: %w", err)
		}
	}
	return nil
}

func printIntegrityText(w io.Writer, reps []idmirror.IntegrityReport) error {
	for _, r := range reps {
		status := "ok"
		if len(r.Problems) > 0 {
			status = fmt.Sprintf("%d problem(s)", len(r.Problems))
		}
		if _, err := fmt.Fprintf(w, "pool %s: %s; %d chains, %d journal records, %d items; digest %s\n",
			r.Pool, status, r.Chains, r.Records, r.Items, r.Digest); err != nil {
			return err
		}
		for _, p := range r.Problems {
			if _, err := fmt.Fprintf(w, "  %s\n", p); err != nil {
				return err
			}
		}
	}
	return nil
}

func printIntegrityJSON(w io.Writer, table string, at time.Time, reps []idmirror.IntegrityReport, d audit.Digest) error {
	if reps == nil {
		reps = []idmirror.IntegrityReport{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Table   string                     `json:"table"`
		At      time.Time                  `json:"at"`
		Reports []idmirror.IntegrityReport `json:"reports"`
		Digest  audit.Digest               `json:"digest"`
	}{table, at.UTC(), reps, d})
}

const adoptUsage = `table adopt-journal --table T [--pool P]

Once, right after upgrading a table written before the journal existed: vouches for every item no journal record
covers, as it is now, with one journal record per entity (docs/auditing.md, "Integrity"). Check the table against
its point-in-time backups first: what this adopts, audit integrity will take as written by idmirror. Items edited
after their journal record are not adopted. Take a digest right after (audit integrity --digest-out F).`

// runAdoptJournal is `idmirror table adopt-journal`.
func runAdoptJournal(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "table adopt-journal", adoptUsage)
	table := fs.String("table", "", "the mirror table (required)")
	pool := fs.String("pool", "", "only this user pool (default: every pool in the table)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table}); err != nil {
		return err
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	n, err := deps.Mirror(cfg, *table, a.log).AdoptJournal(ctx, *pool)
	if errors.Is(err, idmirror.ErrConflict) {
		return hintError{err, "idmirror wrote the entity meanwhile; run table adopt-journal again"}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "adopted %d items; now take a digest: idmirror audit integrity --table %s --digest-out FILE\n", n, *table)
	return nil
}
