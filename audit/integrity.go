package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/idmirror/idmirror"
)

// DigestFormat names the digest file's format.
const DigestFormat = "idmirror-integrity-digest/1"

// Digest is what `idmirror audit integrity --digest-out` writes and ops keep
// outside the account: each pool's chain heads and their hash. A later
// check with it (--digest-in) shows that every chain still extends the
// heads recorded then: a tail rewritten by someone with write access to the
// table, or an entity deleted whole, no longer does (docs/auditing.md).
type Digest struct {
	Format string                `json:"format"`
	Table  string                `json:"table,omitempty"`
	At     time.Time             `json:"at"`
	Pools  map[string]PoolDigest `json:"pools"`
}

// PoolDigest is one pool's heads, by entity, and their hash (idmirror.PoolDigest).
type PoolDigest struct {
	Digest string                        `json:"digest"`
	Heads  map[string]idmirror.ChainHead `json:"heads"`
}

// DigestOf is the digest of the reports.
func DigestOf(table string, at time.Time, reps []idmirror.IntegrityReport) Digest {
	d := Digest{Format: DigestFormat, Table: table, At: at.UTC(), Pools: map[string]PoolDigest{}}
	for _, r := range reps {
		d.Pools[r.Pool] = PoolDigest{Digest: r.Digest, Heads: r.Heads}
	}
	return d
}

// ReadDigest reads a digest file; a file whose heads do not hash to its
// digests (edited by hand, truncated) is refused.
func ReadDigest(r io.Reader) (Digest, error) {
	var d Digest
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return Digest{}, fmt.Errorf("read digest: %w", err)
	}
	if d.Format != DigestFormat {
		return Digest{}, fmt.Errorf("%w: digest format %q, want %q", idmirror.ErrInvalid, d.Format, DigestFormat)
	}
	pools := make([]string, 0, len(d.Pools))
	for p := range d.Pools {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	for _, p := range pools {
		if got := idmirror.PoolDigest(p, d.Pools[p].Heads); got != d.Pools[p].Digest {
			return Digest{}, fmt.Errorf("%w: digest of pool %s: the heads hash to %s, the file says %s", idmirror.ErrInvalid, p, got, d.Pools[p].Digest)
		}
	}
	return d, nil
}

// Integrity checks the journal of pool ("" every pool) against the store,
// and, with prior, that every chain still extends the heads it recorded.
// The reports are ordered by pool; a report with Problems is a finding.
func Integrity(ctx context.Context, c idmirror.IntegrityChecker, pool string, prior *Digest) ([]idmirror.IntegrityReport, error) {
	q := idmirror.IntegrityQuery{Pool: pool}
	if prior != nil {
		q.Prior = map[string]map[string]idmirror.ChainHead{}
		for p, d := range prior.Pools {
			if pool == "" || p == pool {
				q.Prior[p] = d.Heads
			}
		}
	}
	reps, err := c.CheckIntegrity(ctx, q)
	if err != nil {
		return nil, err
	}
	sort.Slice(reps, func(i, j int) bool { return reps[i].Pool < reps[j].Pool })
	return reps, nil
}
