package mirrortest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/idmirror/idmirror"
)

// IntegrityStore is a store whose journal can be checked.
type IntegrityStore interface {
	Store
	idmirror.IntegrityChecker
}

// Tamper changes a store's items behind its back, as someone with write
// access to the table could. Each returns the key (pk, sk) of the item it
// changed; the suite asserts the check names it.
type Tamper struct {
	// EditUserHistory changes the i-th history item of the user (oldest first).
	EditUserHistory func(t *testing.T, pool, sub string, i int) (pk, sk string)
	// DeleteUserHistory removes the i-th history item of the user.
	DeleteUserHistory func(t *testing.T, pool, sub string, i int) (pk, sk string)
	// EditMembership changes the user's first interval in the group (say, backdates its grant).
	EditMembership func(t *testing.T, pool, group, sub string) (pk, sk string)
}

// RunIntegrity runs the journal's cases: each on a new, empty store with
// the way to tamper with it.
func RunIntegrity(t *testing.T, newStore func(t *testing.T) (IntegrityStore, Tamper)) {
	for _, c := range integrityCases {
		t.Run(c.name, func(t *testing.T) {
			s, tamper := newStore(t)
			c.run(t, s, tamper)
		})
	}
}

var integrityCases = []struct {
	name string
	run  func(t *testing.T, s IntegrityStore, tamper Tamper)
}{
	{"EveryKindOfWriteIsJournaled", everyKindOfWriteIsJournaled},
	{"EditedHistoryItemIsFound", editedHistoryItemIsFound},
	{"RemovedHistoryItemIsFound", removedHistoryItemIsFound},
	{"EditedMembershipIsFound", editedMembershipIsFound},
	{"DigestFindsARewrittenOrLostChain", digestFindsARewrittenOrLostChain},
}

func check(t *testing.T, s IntegrityStore, q idmirror.IntegrityQuery) idmirror.IntegrityReport {
	t.Helper()
	reps, err := s.CheckIntegrity(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Pool != q.Pool {
		t.Fatalf("check of pool %s: %d reports %+v", q.Pool, len(reps), reps)
	}
	return reps[0]
}

// writeEverything makes every kind of write of pool: users with groups
// (grants, revokes), a late observation (patches of later history items),
// a tombstone, a user in 100 groups (intervals past one transaction),
// groups, the configuration and the role map.
func writeEverything(t *testing.T, s Store, pool string) {
	t.Helper()
	ctx := context.Background()
	u := alice(pool)
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	v := u
	v.Groups = []string{"operators"}
	put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.FieldGroups, At: at(3), Source: idmirror.SourceEvent})
	late := u
	late.Attributes = map[string]string{"email": "alice@new.example"}
	put(t, s, idmirror.UserWrite{User: late, Fields: idmirror.FieldAttributes, At: at(2), Source: idmirror.SourceEvent})
	put(t, s, idmirror.UserWrite{User: v, Fields: idmirror.FieldGroups, At: at(4), Source: idmirror.SourceSync}) // unchanged: clocks only
	bob := idmirror.User{PoolID: pool, Sub: "sub-bob", Username: "bob", Enabled: true, Groups: []string{"admins"}}
	put(t, s, idmirror.UserWrite{User: bob, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	put(t, s, idmirror.UserWrite{User: bob, Delete: true, At: at(5), Source: idmirror.SourceSync})
	carol := idmirror.User{PoolID: pool, Sub: "sub-carol", Username: "carol", Enabled: true}
	for i := range 100 {
		carol.Groups = append(carol.Groups, fmt.Sprintf("g%03d", i))
	}
	put(t, s, idmirror.UserWrite{User: carol, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync})
	carol.Groups = []string{"h000"}
	put(t, s, idmirror.UserWrite{User: carol, Fields: idmirror.FieldGroups, At: at(2), Source: idmirror.SourceEvent})
	p := int32(1)
	if _, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: pool, Name: "admins", Precedence: &p}, At: at(1), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: pool, Name: "admins"}, Delete: true, At: at(2), Source: idmirror.SourceEvent}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPoolConfig(ctx, idmirror.PoolConfig{PoolID: pool, Name: "staff", MFA: "OPTIONAL"}, at(1), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRoleMap(ctx, pool, idmirror.DefaultRoleMap(), at(1), idmirror.SourceSync); err != nil {
		t.Fatal(err)
	}
	// A late CloudTrail event's actor attached to a change the reconcile
	// recorded first: the history item and the grant's interval are amended.
	dave := idmirror.User{PoolID: pool, Sub: "sub-dave", Username: "dave", Enabled: true, Groups: []string{"staff"}}
	put(t, s, idmirror.UserWrite{User: dave, Fields: idmirror.AllFields, At: at(1), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()})
	dave.Groups = []string{"admins", "staff"}
	put(t, s, idmirror.UserWrite{User: dave, Fields: idmirror.FieldGroups, At: at(6), Source: idmirror.SourceSync, Actor: idmirror.SyncActor()})
	ok, err := s.ExplainChange(ctx, idmirror.Explanation{Kind: "user", PoolID: pool, Key: "sub-dave", Since: at(5), Field: "groups", Group: "admins",
		Matches: func(fc idmirror.FieldChange) bool { return fc.After == "admins,staff" }, Actor: idmirror.Actor{Type: "IAMUser", ARN: "arn:aws:iam::1:user/x"}})
	if err != nil || !ok {
		t.Fatalf("explain dave's grant: %v, %v", ok, err)
	}
}

func noProblems(t *testing.T, rep idmirror.IntegrityReport) {
	t.Helper()
	for _, p := range rep.Problems {
		t.Errorf("problem: %s", p)
	}
}

// found asserts rep names the item pk/sk with the problem, and nothing else of kind.
func found(t *testing.T, rep idmirror.IntegrityReport, pk, sk, problem string) {
	t.Helper()
	for _, p := range rep.Problems {
		if p.Entity == pk && p.Key == sk && p.Problem == problem && p.Kind == idmirror.ItemKind(sk) {
			return
		}
	}
	t.Fatalf("the check did not report %s %s %s; problems: %+v", problem, pk, sk, rep.Problems)
}

func everyKindOfWriteIsJournaled(t *testing.T, s IntegrityStore, _ Tamper) {
	writeEverything(t, s, "p")
	rep := check(t, s, idmirror.IntegrityQuery{Pool: "p"})
	noProblems(t, rep)
	// alice, bob, carol, dave, admins, config, rolemap.
	if rep.Chains != 7 || len(rep.Heads) != 7 {
		t.Fatalf("%d chains, %d heads; want 7: %v", rep.Chains, len(rep.Heads), slices.Collect(maps.Keys(rep.Heads)))
	}
	// alice: 4 writes; bob 2; carol 2 writes, the first settling its
	// intervals past one transaction; groups, config, rolemap 2+1+1; dave 2
	// writes and the late actor's amendment.
	if rep.Records < 4+2+3+2+1+1+3 || rep.Items < 10 {
		t.Fatalf("%d records over %d items: every write is journaled", rep.Records, rep.Items)
	}
	if rep.Digest == "" || rep.Digest != idmirror.PoolDigest("p", rep.Heads) {
		t.Fatalf("digest %q is not the heads' digest", rep.Digest)
	}
	again := check(t, s, idmirror.IntegrityQuery{Pool: "p", Prior: map[string]map[string]idmirror.ChainHead{"p": rep.Heads}})
	noProblems(t, again)
	if again.Digest != rep.Digest {
		t.Fatalf("the digest moved without a write: %s, then %s", rep.Digest, again.Digest)
	}
	// Another pool is checked on its own.
	if other := check(t, s, idmirror.IntegrityQuery{Pool: "other"}); other.Chains != 0 || len(other.Problems) != 0 {
		t.Fatalf("an empty pool: %+v", other)
	}
}

func editedHistoryItemIsFound(t *testing.T, s IntegrityStore, tamper Tamper) {
	writeEverything(t, s, "p")
	pk, sk := tamper.EditUserHistory(t, "p", "sub-alice", 1)
	rep := check(t, s, idmirror.IntegrityQuery{Pool: "p"})
	found(t, rep, pk, sk, idmirror.ProblemEdited)
	if len(rep.Problems) != 1 {
		t.Fatalf("one item edited, %d problems: %+v", len(rep.Problems), rep.Problems)
	}
}

func removedHistoryItemIsFound(t *testing.T, s IntegrityStore, tamper Tamper) {
	writeEverything(t, s, "p")
	pk, sk := tamper.DeleteUserHistory(t, "p", "sub-bob", 0)
	rep := check(t, s, idmirror.IntegrityQuery{Pool: "p"})
	found(t, rep, pk, sk, idmirror.ProblemRemoved)
	if len(rep.Problems) != 1 {
		t.Fatalf("one item removed, %d problems: %+v", len(rep.Problems), rep.Problems)
	}
}

func editedMembershipIsFound(t *testing.T, s IntegrityStore, tamper Tamper) {
	writeEverything(t, s, "p")
	pk, sk := tamper.EditMembership(t, "p", "g098", "sub-carol") // granted and revoked past one transaction
	pk2, sk2 := tamper.EditMembership(t, "p", "operators", "sub-alice")
	rep := check(t, s, idmirror.IntegrityQuery{Pool: "p"})
	found(t, rep, pk, sk, idmirror.ProblemEdited)
	found(t, rep, pk2, sk2, idmirror.ProblemEdited)
	if len(rep.Problems) != 2 {
		t.Fatalf("two intervals edited, %d problems: %+v", len(rep.Problems), rep.Problems)
	}
}

func digestFindsARewrittenOrLostChain(t *testing.T, s IntegrityStore, _ Tamper) {
	writeEverything(t, s, "p")
	first := check(t, s, idmirror.IntegrityQuery{Pool: "p"})
	// More writes extend the chains: the old heads still hold.
	u := alice("p")
	u.Status = "RESET_REQUIRED"
	put(t, s, idmirror.UserWrite{User: u, Fields: idmirror.FieldStatus, At: at(10), Source: idmirror.SourceEvent})
	prior := maps.Clone(first.Heads)
	noProblems(t, check(t, s, idmirror.IntegrityQuery{Pool: "p", Prior: map[string]map[string]idmirror.ChainHead{"p": prior}}))
	// A head the chain no longer holds (a forged tail rewrote it), and a
	// chain the digest knew that is gone (a deleted entity).
	var alicePK string
	for e := range prior {
		if strings.HasSuffix(e, "#U#sub-alice") {
			alicePK = e
		}
	}
	if alicePK == "" {
		t.Fatalf("no chain of alice among %v", slices.Collect(maps.Keys(prior)))
	}
	h := prior[alicePK]
	h.Hash = strings.Repeat("0", 64)
	prior[alicePK] = h
	gone := "P#p#U#sub-gone"
	prior[gone] = idmirror.ChainHead{Seq: idmirror.JournalSeq(3, 0), Hash: strings.Repeat("1", 64)}
	rep := check(t, s, idmirror.IntegrityQuery{Pool: "p", Prior: map[string]map[string]idmirror.ChainHead{"p": prior}})
	found(t, rep, alicePK, "J#"+h.Seq, idmirror.ProblemRewritten)
	found(t, rep, gone, "J#"+idmirror.JournalSeq(3, 0), idmirror.ProblemRemoved)
	if len(rep.Problems) != 2 {
		t.Fatalf("%d problems: %+v", len(rep.Problems), rep.Problems)
	}
	// A pool the digest knew that has nothing now.
	gp := check(t, s, idmirror.IntegrityQuery{Pool: "q", Prior: map[string]map[string]idmirror.ChainHead{"q": {gone: prior[gone]}}})
	found(t, gp, gone, "J#"+idmirror.JournalSeq(3, 0), idmirror.ProblemRemoved)
}
