package idmirror

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The journal: every write a mirror store makes is recorded, in the same
// transaction, by a journal record in the written entity's own chain (a
// user, a group, the pool configuration, the role map). A record holds the
// key and the SHA-256 of the full content after the write of every item
// the write put, and the hash of the record before it, so that an item
// edited, removed or added behind the store's back, and a journal record
// edited, removed or reordered, are found by CheckIntegrity. The threat
// model (what a chain does not catch, and the digest that does) is in
// docs/auditing.md.

// ItemDigest is one item a journal record covers: its key and the
// SHA-256 (hex) of its canonical content after the write.
type ItemDigest struct {
	PK   string `json:"pk"`
	SK   string `json:"sk"`
	Hash string `json:"h"`
}

// JournalRecord is one record of an entity's journal.
type JournalRecord struct {
	Entity  string // the entity's key (its item collection)
	Pool    string
	Version int64 // the entity's version the write made
	// Part is 0 for a write's transaction, 1… for the membership intervals
	// past one transaction that are written (settled) after it.
	Part  int
	Prev  string    // Hash of the record before it in the chain ("" for the first)
	At    time.Time // when the store wrote it
	Items []ItemDigest
	Hash  string // ComputeHash of the above
	// Key, when a store knows it, is the record's own sort key as stored
	// ("J#" + Seq): a record moved to another key is out of order.
	Key string
}

// Seq is the record's place in its chain: it sorts as the chain runs.
func (r JournalRecord) Seq() string { return JournalSeq(r.Version, r.Part) }

// JournalSeq is the sequence of version and part as a fixed-width string.
func JournalSeq(version int64, part int) string { return fmt.Sprintf("%010d#%03d", version, part) }

// journalTimeLayout is fixed width, UTC with nanoseconds (as the mirror's times).
const journalTimeLayout = "2006-01-02T15:04:05.000000000Z"

// ComputeHash is the SHA-256 (hex) of the record's fields but Hash, each
// length-prefixed so that no two records encode alike. Pinned by TestJournalHash.
func (r JournalRecord) ComputeHash() string {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	field := func(s string) {
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	field("idmirror-journal-v1")
	field(r.Entity)
	field(r.Pool)
	field(r.Seq())
	field(r.Prev)
	field(r.At.UTC().Format(journalTimeLayout))
	field(fmt.Sprint(len(r.Items)))
	for _, it := range r.Items {
		field(it.PK)
		field(it.SK)
		field(it.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Seal sets the record's Prev and Hash, chaining it after prev ("" for the first).
func (r *JournalRecord) Seal(prev string) {
	r.Prev = prev
	r.Hash = r.ComputeHash()
}

// StoredItem is an item as it is now in a store: its key and the hash of
// its content, computed as the journal computed it at the write.
type StoredItem struct {
	PK, SK string
	Hash   string
	// Head is, on a state item that carries it, the hash of the last
	// journal record of its chain (what the next write chains after).
	Head string
}

// ChainHead is the last record of one entity's chain.
type ChainHead struct {
	Seq  string `json:"seq"`
	Hash string `json:"hash"`
}

// Integrity problems, by what was found.
const (
	ProblemEdited      = "edited"      // the item's content differs from the journal's last record of it
	ProblemRemoved     = "removed"     // the journal records the item (or the digest a chain) and it is gone
	ProblemUnjournaled = "unjournaled" // no journal record covers the item
	ProblemReordered   = "reordered"   // a journal record is out of its chain's order, or its link is broken
	ProblemRewritten   = "rewritten"   // the chain no longer extends the head a digest recorded
)

// IntegrityProblem is one item that is not as the journal says.
type IntegrityProblem struct {
	Pool    string `json:"pool"`
	Entity  string `json:"entity"` // the item's collection (pk)
	Kind    string `json:"kind"`   // state, history, member, journal, other
	Key     string `json:"key"`    // the item's sort key
	Problem string `json:"problem"`
	Detail  string `json:"detail,omitempty"`
}

func (p IntegrityProblem) String() string {
	s := fmt.Sprintf("%s %s %s %s", p.Problem, p.Kind, p.Entity, p.Key)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// IntegrityReport is the check of one pool.
type IntegrityReport struct {
	Pool    string               `json:"pool"`
	Chains  int                  `json:"chains"`
	Records int                  `json:"records"`
	Items   int                  `json:"items"`
	Heads   map[string]ChainHead `json:"heads"` // by entity
	// Digest is the SHA-256 over every chain's head (PoolDigest): kept
	// outside the account, it shows later that no chain was rewritten.
	Digest   string             `json:"digest"`
	Problems []IntegrityProblem `json:"problems,omitempty"`
}

// IntegrityQuery selects what CheckIntegrity checks.
type IntegrityQuery struct {
	Pool string // "": every pool of the store
	// Prior, when set, are the heads an earlier check recorded, by pool and
	// entity: each chain must still extend its head.
	Prior map[string]map[string]ChainHead
}

// IntegrityChecker is a store whose journal can be checked.
type IntegrityChecker interface {
	CheckIntegrity(ctx context.Context, q IntegrityQuery) ([]IntegrityReport, error)
}

// PoolDigest is the SHA-256 (hex) over the heads, sorted by entity.
func PoolDigest(pool string, heads map[string]ChainHead) string {
	ents := make([]string, 0, len(heads))
	for e := range heads {
		ents = append(ents, e)
	}
	sort.Strings(ents)
	h := sha256.New()
	fmt.Fprintf(h, "idmirror-digest-v1\n%s\n", pool)
	for _, e := range ents {
		fmt.Fprintf(h, "%s\n%s\n%s\n", e, heads[e].Seq, heads[e].Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ItemKind names an item by its sort key.
func ItemKind(sk string) string {
	switch {
	case sk == "STATE":
		return "state"
	case strings.HasPrefix(sk, "H#"):
		return "history"
	case strings.HasPrefix(sk, "M#"):
		return "member"
	case strings.HasPrefix(sk, "J#"):
		return "journal"
	}
	return "other"
}

// CheckIntegrity checks one pool: it recomputes every chain (each record's
// hash, and its link to the record before), checks every stored item
// against the journal's last record of it, and, with prior heads, that
// every chain still extends them. Each store gathers its items and records
// and calls it, so both stores judge alike.
func CheckIntegrity(pool string, items []StoredItem, records []JournalRecord, prior map[string]ChainHead) IntegrityReport {
	rep := IntegrityReport{Pool: pool, Items: len(items), Records: len(records), Heads: map[string]ChainHead{}}
	add := func(entity, kind, key, problem, detail string) {
		rep.Problems = append(rep.Problems, IntegrityProblem{Pool: pool, Entity: entity, Kind: kind, Key: key, Problem: problem, Detail: detail})
	}
	chains := map[string][]JournalRecord{}
	for _, r := range records {
		chains[r.Entity] = append(chains[r.Entity], r)
	}
	type last struct {
		hash, entity, seq string
		at                time.Time
	}
	lastOf := map[[2]string]last{}
	ents := make([]string, 0, len(chains))
	for e := range chains {
		ents = append(ents, e)
	}
	sort.Strings(ents)
	rep.Chains = len(ents)
	bySeq := map[string]map[string]string{} // entity → seq → hash
	for _, e := range ents {
		c := chains[e]
		sort.Slice(c, func(i, j int) bool { return c[i].Seq() < c[j].Seq() })
		seqs := map[string]string{}
		bySeq[e] = seqs
		for i, r := range c {
			key := "J#" + r.Seq()
			if r.Key != "" && r.Key != key {
				add(e, "journal", r.Key, ProblemReordered, "holds the record of "+key)
			}
			if got := r.ComputeHash(); got != r.Hash {
				add(e, "journal", key, ProblemEdited, "the record's hash does not match its content")
			}
			switch {
			case i == 0 && r.Prev != "":
				add(e, "journal", key, ProblemRemoved, "the chain's earlier records are gone")
			case i > 0 && r.Prev != c[i-1].Hash:
				add(e, "journal", key, ProblemReordered, "does not chain after J#"+c[i-1].Seq())
			}
			seqs[r.Seq()] = r.Hash
			for _, it := range r.Items {
				k := [2]string{it.PK, it.SK}
				if l, ok := lastOf[k]; ok && l.entity != e && l.at.After(r.At) {
					continue
				}
				lastOf[k] = last{hash: it.Hash, entity: e, seq: r.Seq(), at: r.At}
			}
		}
		h := c[len(c)-1]
		rep.Heads[e] = ChainHead{Seq: h.Seq(), Hash: h.Hash}
	}
	seen := map[[2]string]bool{}
	for _, it := range items {
		k := [2]string{it.PK, it.SK}
		seen[k] = true
		l, ok := lastOf[k]
		switch {
		case !ok:
			add(it.PK, ItemKind(it.SK), it.SK, ProblemUnjournaled, "no journal record covers it")
		case l.hash != it.Hash:
			add(it.PK, ItemKind(it.SK), it.SK, ProblemEdited, "differs from its record in J#"+l.seq+" of "+l.entity)
		}
		if it.Head != "" && rep.Heads[it.PK].Hash != it.Head {
			add(it.PK, ItemKind(it.SK), it.SK, ProblemEdited, "names a journal head its chain does not end with")
		}
	}
	missing := make([][2]string, 0)
	for k := range lastOf {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Slice(missing, func(i, j int) bool {
		return missing[i][0] < missing[j][0] || missing[i][0] == missing[j][0] && missing[i][1] < missing[j][1]
	})
	for _, k := range missing {
		l := lastOf[k]
		add(k[0], ItemKind(k[1]), k[1], ProblemRemoved, "recorded in J#"+l.seq+" of "+l.entity)
	}
	priorEnts := make([]string, 0, len(prior))
	for e := range prior {
		priorEnts = append(priorEnts, e)
	}
	sort.Strings(priorEnts)
	for _, e := range priorEnts {
		ph := prior[e]
		switch h, ok := bySeq[e][ph.Seq]; {
		case bySeq[e] == nil:
			add(e, "journal", "J#"+ph.Seq, ProblemRemoved, "the digest's chain is gone")
		case !ok:
			add(e, "journal", "J#"+ph.Seq, ProblemRemoved, "the digest's head is gone")
		case h != ph.Hash:
			add(e, "journal", "J#"+ph.Seq, ProblemRewritten, "the chain no longer extends the digest's head")
		}
	}
	rep.Digest = PoolDigest(pool, rep.Heads)
	return rep
}
