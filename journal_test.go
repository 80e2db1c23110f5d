package idmirror_test

import (
	"testing"
	"time"

	"github.com/idmirror/idmirror"
)

// TestJournalHash pins the journal record's hash: stored chains are checked against it.
func TestJournalHash(t *testing.T) {
	r := idmirror.JournalRecord{Entity: "P#p#U#sub", Pool: "p", Version: 2, Part: 1,
		At: time.Date(2026, 3, 1, 10, 0, 0, 5, time.UTC), Items: []idmirror.ItemDigest{{PK: "P#p#U#sub", SK: "STATE", Hash: "aa"}}}
	r.Seal("prev")
	const want = "4d5cf5cc78d018168bc6427867e36efe017e693efcff04f01184c3e6212b3462"
	if r.Hash != want {
		t.Fatalf("hash %s, want %s", r.Hash, want)
	}
	// Every field is covered, and field boundaries count.
	for name, f := range map[string]func(*idmirror.JournalRecord){
		"entity": func(r *idmirror.JournalRecord) { r.Entity += "x" },
		"part":   func(r *idmirror.JournalRecord) { r.Part = 0 },
		"prev":   func(r *idmirror.JournalRecord) { r.Prev = "" },
		"at":     func(r *idmirror.JournalRecord) { r.At = r.At.Add(1) },
		"item":   func(r *idmirror.JournalRecord) { r.Items[0].Hash = "ab" },
		"split":  func(r *idmirror.JournalRecord) { r.Items[0].PK, r.Items[0].SK = "P#p#U#subS", "TATE" },
	} {
		c := r
		c.Items = append([]idmirror.ItemDigest(nil), r.Items...)
		f(&c)
		if c.ComputeHash() == want {
			t.Errorf("changing %s left the hash as it was", name)
		}
	}
}

// TestCheckIntegrity: a broken link and an out-of-place record are found.
func TestCheckIntegrity(t *testing.T) {
	item := idmirror.StoredItem{PK: "E", SK: "STATE", Hash: "s2"}
	a := idmirror.JournalRecord{Entity: "E", Pool: "p", Version: 1, Items: []idmirror.ItemDigest{{PK: "E", SK: "STATE", Hash: "s1"}}}
	a.Seal("")
	b := idmirror.JournalRecord{Entity: "E", Pool: "p", Version: 2, Items: []idmirror.ItemDigest{{PK: "E", SK: "STATE", Hash: "s2"}}}
	b.Seal(a.Hash)
	if rep := idmirror.CheckIntegrity("p", []idmirror.StoredItem{item}, []idmirror.JournalRecord{b, a}, nil); len(rep.Problems) != 0 || rep.Heads["E"].Hash != b.Hash {
		t.Fatalf("a sound chain: %+v", rep)
	}
	c := idmirror.JournalRecord{Entity: "E", Pool: "p", Version: 3, Items: []idmirror.ItemDigest{{PK: "E", SK: "STATE", Hash: "s2"}}}
	c.Seal(a.Hash) // forked after a, not b
	c.Key = "J#" + idmirror.JournalSeq(4, 0)
	rep := idmirror.CheckIntegrity("p", []idmirror.StoredItem{item}, []idmirror.JournalRecord{a, b, c}, nil)
	if len(rep.Problems) != 2 || rep.Problems[0].Problem != idmirror.ProblemReordered || rep.Problems[1].Problem != idmirror.ProblemReordered {
		t.Fatalf("a fork and a moved record: %+v", rep.Problems)
	}
	// The first record lost: the chain starts mid-way.
	rep = idmirror.CheckIntegrity("p", []idmirror.StoredItem{item}, []idmirror.JournalRecord{b}, nil)
	if len(rep.Problems) != 1 || rep.Problems[0].Problem != idmirror.ProblemRemoved || rep.Problems[0].Kind != "journal" {
		t.Fatalf("a lost first record: %+v", rep.Problems)
	}
}
