package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idmirror/idmirror"
)

// The journal (docs/mirror-table.md, "The journal"): every transaction the
// store writes holds, besides the items it puts, one journal item J#<seq>
// in the collection of the entity written, conditioned on not existing. It
// records each item put and the SHA-256 of its canonical content
// (ItemHash), and chains after the entity's previous journal item, whose
// hash the entity's STATE item carries as jhead.

const (
	skJournal = "J#" // J#<version>#<part>
	attrJHead = "jhead"
)

// journalItem is the stored shape of a journal record.
type journalItem struct {
	PK      string          `dynamodbav:"pk"`
	SK      string          `dynamodbav:"sk"`
	Kind    string          `dynamodbav:"kind"` // journal
	Pool    string          `dynamodbav:"pool"`
	Version int64           `dynamodbav:"version"`
	Part    int             `dynamodbav:"part"`
	Prev    string          `dynamodbav:"prev"`
	At      string          `dynamodbav:"at"`
	Items   []itemDigestDoc `dynamodbav:"items"`
	Hash    string          `dynamodbav:"hash"`
}

type itemDigestDoc struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Hash string `dynamodbav:"h"`
}

func (j *journalItem) record() idmirror.JournalRecord {
	r := idmirror.JournalRecord{Entity: j.PK, Pool: j.Pool, Version: j.Version, Part: j.Part, Prev: j.Prev,
		At: parseTime(j.At), Hash: j.Hash, Key: j.SK}
	for _, d := range j.Items {
		r.Items = append(r.Items, idmirror.ItemDigest(d))
	}
	return r
}

// ItemHash is the SHA-256 (hex) of an item's canonical encoding: attribute
// names sorted, each value tagged with its type and length-prefixed, sets
// sorted, lists in order; a STATE item's jhead (the hash of the journal
// record that covers it) is left out. TestItemHashGolden pins it.
func ItemHash(item map[string]types.AttributeValue) string {
	buf := make([]byte, 0, 2048)
	buf = appendMap(buf, item, true)
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

func appendStr(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendSorted(buf []byte, tag byte, ss []string) []byte {
	ss = append([]string(nil), ss...)
	sort.Strings(ss)
	buf = binary.AppendUvarint(append(buf, tag), uint64(len(ss)))
	for _, s := range ss {
		buf = appendStr(buf, s)
	}
	return buf
}

// appendMap encodes a map, its names sorted; top leaves out jhead.
func appendMap(buf []byte, m map[string]types.AttributeValue, top bool) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !top || k != attrJHead {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	buf = binary.AppendUvarint(append(buf, 'M'), uint64(len(keys)))
	for _, k := range keys {
		buf = appendStr(buf, k)
		buf = appendCanon(buf, m[k])
	}
	return buf
}

func appendCanon(buf []byte, v types.AttributeValue) []byte {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return appendStr(append(buf, 'S'), v.Value)
	case *types.AttributeValueMemberN:
		return appendStr(append(buf, 'N'), v.Value)
	case *types.AttributeValueMemberB:
		return appendStr(append(buf, 'B'), string(v.Value))
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			return append(buf, 'T')
		}
		return append(buf, 'F')
	case *types.AttributeValueMemberNULL:
		return append(buf, '0')
	case *types.AttributeValueMemberSS:
		return appendSorted(buf, 's', v.Value)
	case *types.AttributeValueMemberNS:
		return appendSorted(buf, 'n', v.Value)
	case *types.AttributeValueMemberBS:
		bs := make([]string, len(v.Value))
		for i, b := range v.Value {
			bs[i] = string(b)
		}
		return appendSorted(buf, 'b', bs)
	case *types.AttributeValueMemberL:
		buf = binary.AppendUvarint(append(buf, 'L'), uint64(len(v.Value)))
		for _, e := range v.Value {
			buf = appendCanon(buf, e)
		}
		return buf
	case *types.AttributeValueMemberM:
		return appendMap(buf, v.Value, false)
	}
	// A type the SDK adds later: its Go form, tagged so that it cannot
	// collide with the types above.
	return appendStr(append(buf, '?'), fmt.Sprintf("%T%v", v, v))
}

// journal adds the journal item of a transaction to items: it digests every
// Put, sets the new head on the entity's STATE put (statePut), and appends
// the journal Put (conditioned on not existing). It returns the record.
// adopted are items the record vouches for as they are, without writing
// them (AdoptJournal).
func (s *Store) journal(items []types.TransactWriteItem, statePut *types.Put, pk, pool string, version int64, part int, prev string, adopted ...idmirror.ItemDigest) ([]types.TransactWriteItem, idmirror.JournalRecord, error) {
	r := idmirror.JournalRecord{Entity: pk, Pool: pool, Version: version, Part: part, At: s.now()}
	for _, it := range items {
		if it.Put == nil {
			return nil, r, fmt.Errorf("journal: only puts are journaled, got %+v", it)
		}
		r.Items = append(r.Items, idmirror.ItemDigest{PK: avString(it.Put.Item[attrPK]), SK: avString(it.Put.Item[attrSK]), Hash: ItemHash(it.Put.Item)})
	}
	r.Items = append(r.Items, adopted...)
	r.Seal(prev)
	statePut.Item[attrJHead] = &types.AttributeValueMemberS{Value: r.Hash}
	j := journalItem{PK: pk, SK: skJournal + r.Seq(), Kind: "journal", Pool: pool, Version: version, Part: part,
		Prev: r.Prev, At: fmtTime(r.At), Hash: r.Hash}
	for _, d := range r.Items {
		j.Items = append(j.Items, itemDigestDoc(d))
	}
	av, err := attributevalue.MarshalMap(j)
	if err != nil {
		return nil, r, fmt.Errorf("encode journal: %w", err)
	}
	return append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: av,
		ConditionExpression: aws.String("attribute_not_exists(pk)")}}), r, nil
}

func avString(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// CheckIntegrity reads the whole table (a parallel Scan: the check must see
// items that no index or key would lead to) and checks each pool's journal
// (idmirror.CheckIntegrity). Restore's intents are not journaled and not
// checked.
//
// A scan is not a snapshot: a write that commits while it runs can show its
// journal record without its items, or the reverse. So a pool with findings
// is read again, and only findings both reads show are reported (a write
// in flight shows in one read at most; a change behind idmirror's back, in
// both).
func (s *Store) CheckIntegrity(ctx context.Context, q idmirror.IntegrityQuery) ([]idmirror.IntegrityReport, error) {
	out, err := s.checkOnce(ctx, q)
	if err != nil {
		return nil, err
	}
	for i, rep := range out {
		if len(rep.Problems) == 0 {
			continue
		}
		again, err := s.checkOnce(ctx, idmirror.IntegrityQuery{Pool: rep.Pool, Prior: map[string]map[string]idmirror.ChainHead{rep.Pool: q.Prior[rep.Pool]}})
		if err != nil {
			return nil, err
		}
		seen := map[idmirror.IntegrityProblem]bool{}
		for _, p := range again[0].Problems {
			seen[p] = true
		}
		var kept []idmirror.IntegrityProblem
		for _, p := range rep.Problems {
			if seen[p] {
				kept = append(kept, p)
			}
		}
		out[i].Problems = kept
	}
	return out, nil
}

func (s *Store) checkOnce(ctx context.Context, q idmirror.IntegrityQuery) ([]idmirror.IntegrityReport, error) {
	pools, err := s.gather(ctx, q.Pool)
	if err != nil {
		return nil, fmt.Errorf("check integrity: %w", err)
	}
	names := map[string]bool{}
	for p := range pools {
		names[p] = true
	}
	for p := range q.Prior {
		if q.Pool == "" || p == q.Pool {
			names[p] = true
		}
	}
	if q.Pool != "" {
		names[q.Pool] = true
	}
	var out []idmirror.IntegrityReport
	for _, name := range sortedKeys(names) {
		p := pools[name]
		if p == nil {
			p = &poolItems{}
		}
		out = append(out, idmirror.CheckIntegrity(name, p.items, p.records, q.Prior[name]))
	}
	return out, nil
}

// poolItems are a pool's items (but intents) and journal records.
type poolItems struct {
	items   []idmirror.StoredItem
	records []idmirror.JournalRecord
}

// gather scans the table for the items of pool ("": every pool).
func (s *Store) gather(ctx context.Context, pool string) (map[string]*poolItems, error) {
	var mu sync.Mutex
	pools := map[string]*poolItems{}
	err := s.scan(ctx, 4, true, func(item map[string]types.AttributeValue) error {
		pk, sk := avString(item[attrPK]), avString(item[attrSK])
		p, ok := poolOfKey(pk)
		// Restore's intents are outside the chains (docs/mirror-table.md);
		// only their own key prefix, never a group whose name contains it.
		if !ok || (pool != "" && p != pool) || strings.HasPrefix(pk, intentPK(p, "")) {
			return nil
		}
		var rec *idmirror.JournalRecord
		var st idmirror.StoredItem
		if strings.HasPrefix(sk, skJournal) {
			var j journalItem
			if err := attributevalue.UnmarshalMap(item, &j); err != nil {
				return fmt.Errorf("decode journal %s %s: %w", pk, sk, err)
			}
			r := j.record()
			rec = &r
		} else {
			st = idmirror.StoredItem{PK: pk, SK: sk, Hash: ItemHash(item), Head: avString(item[attrJHead])}
		}
		mu.Lock()
		defer mu.Unlock()
		pi := pools[p]
		if pi == nil {
			pi = &poolItems{}
			pools[p] = pi
		}
		if rec != nil {
			pi.records = append(pi.records, *rec)
		} else {
			pi.items = append(pi.items, st)
		}
		return nil
	})
	return pools, err
}

// AdoptJournal vouches, once, for the items of pool ("": every pool) that
// no journal record covers — on a table written before the journal
// existed, everything last written before the upgrade — as they are now:
// for each entity, one journal record (the next part of its version) lists
// them with their hashes, chained as any write. It is a write, and what it
// vouches for is what the table holds when it runs: run it once, right
// after upgrading, on a table checked against its point-in-time backups
// (docs/auditing.md). Items edited after their journal record, and items
// whose entity has no STATE item, are left to the check. It returns how
// many items it adopted.
func (s *Store) AdoptJournal(ctx context.Context, pool string) (int, error) {
	pools, err := s.gather(ctx, pool)
	if err != nil {
		return 0, fmt.Errorf("adopt journal: %w", err)
	}
	adopted := 0
	for _, name := range sortedKeys(func() map[string]bool {
		m := map[string]bool{}
		for p := range pools {
			m[p] = true
		}
		return m
	}()) {
		p := pools[name]
		covered := map[[2]string]bool{}
		for _, r := range p.records {
			for _, it := range r.Items {
				covered[[2]string{it.PK, it.SK}] = true
			}
		}
		owed := map[string][]idmirror.ItemDigest{} // by owning entity
		for _, it := range p.items {
			if covered[[2]string{it.PK, it.SK}] || it.SK == skState {
				continue // a STATE item is put (and so covered) by its own adoption
			}
			owner := it.PK
			if strings.HasPrefix(it.SK, skMember) {
				parts := strings.SplitN(it.SK, "#", 3) // M#<grantedAt>#<sub>
				if len(parts) != 3 {
					continue
				}
				owner = userPK(name, parts[2])
			}
			owed[owner] = append(owed[owner], idmirror.ItemDigest{PK: it.PK, SK: it.SK, Hash: it.Hash})
		}
		heads := map[string]string{} // each STATE item's journal head when scanned
		for _, it := range p.items {
			if it.SK != skState {
				continue
			}
			heads[it.PK] = it.Head
			if !covered[[2]string{it.PK, it.SK}] && owed[it.PK] == nil {
				owed[it.PK] = []idmirror.ItemDigest{}
			}
		}
		owners := map[string]bool{}
		for o := range owed {
			owners[o] = true
		}
		for _, owner := range sortedKeys(owners) {
			head, ok := heads[owner]
			if !ok {
				continue // no STATE item: nothing to chain on; the check reports the items
			}
			n, err := s.adopt(ctx, owner, head, owed[owner])
			if err != nil {
				return adopted, err
			}
			adopted += n
		}
	}
	return adopted, nil
}

// adoptChunk is how many items one adoption record lists (a journal item
// stays far below DynamoDB's 400 KB).
const adoptChunk = 1000

// adopt writes the adoption records of one entity whose journal head was
// head when its items were read: if it has moved since, the items may have
// too, and nothing is written.
func (s *Store) adopt(ctx context.Context, pk, head string, items []idmirror.ItemDigest) (int, error) {
	done := 0
	for first := true; first || len(items) > 0; first = false {
		chunk := items[:min(len(items), adoptChunk)]
		_, err := s.retry(ctx, "adopt "+pk, func() (idmirror.Outcome, error) {
			meta, put, err := s.nextPartState(ctx, pk)
			if err != nil {
				return 0, err
			}
			if meta.JHead != head {
				return 0, fmt.Errorf("adopt %s: %w: written since the scan; run the adoption again", pk, idmirror.ErrConflict)
			}
			tx, rec, err := s.journal([]types.TransactWriteItem{{Put: put}}, put, pk, meta.Pool, meta.Version, meta.JPart+1, meta.JHead, chunk...)
			if err != nil {
				return 0, err
			}
			_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
			if err = translateTxErr(err); err == nil {
				head = rec.Hash
			}
			return idmirror.Changed, err
		})
		if err != nil {
			return done, err
		}
		done += len(chunk)
		items = items[len(chunk):]
	}
	return done, nil
}

// poolOfKey returns the pool of an item's pk (P#<pool>#…).
func poolOfKey(pk string) (string, bool) {
	rest, ok := strings.CutPrefix(pk, "P#")
	if !ok {
		return "", false
	}
	pool, _, ok := strings.Cut(rest, "#")
	return pool, ok
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// amendHistory changes one history item of pk in place without a new
// version of the entity (a late actor explains a change already recorded):
// edit gets the item as stored and changes it; the item is put whole with
// the entity's STATE item, guarded by its version and journal head, and a
// journal item of the next part of that version, in one transaction. It
// retries on a lost race. ErrNotFound if the entity or the item is missing.
func (s *Store) amendHistory(ctx context.Context, pk, sk string, edit func(item map[string]types.AttributeValue) error) error {
	return s.amendItems(ctx, pk, sk, edit, nil)
}

// itemEdit is an optional second item an amendment changes in the same
// transaction (the membership interval a late actor explains): skipped when
// the item is missing or edit reports false.
type itemEdit struct {
	pk, sk string
	edit   func(item map[string]types.AttributeValue) bool
}

// amendItems is amendHistory with an optional other item changed with it.
// An edit error aborts it: nothing is written.
func (s *Store) amendItems(ctx context.Context, pk, sk string, edit func(item map[string]types.AttributeValue) error, also *itemEdit) error {
	_, err := s.retry(ctx, "amend "+pk+" "+sk, func() (idmirror.Outcome, error) {
		meta, put, err := s.nextPartState(ctx, pk)
		if err != nil {
			return 0, err
		}
		h, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, fmt.Errorf("get %s %s: %w", pk, sk, err)
		}
		if h.Item == nil {
			return 0, fmt.Errorf("amend %s %s: %w", pk, sk, idmirror.ErrNotFound)
		}
		item := maps.Clone(h.Item)
		if err := edit(item); err != nil {
			return 0, err
		}
		if avString(item[attrPK]) != pk || avString(item[attrSK]) != sk {
			return 0, fmt.Errorf("%w: amend %s %s: the edit changed the item's key", idmirror.ErrInvalid, pk, sk)
		}
		items := []types.TransactWriteItem{{Put: put}, {Put: &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_exists(pk)")}}}
		if also != nil {
			other, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(also.pk, also.sk), ConsistentRead: aws.Bool(true)})
			if err != nil {
				return 0, fmt.Errorf("get %s %s: %w", also.pk, also.sk, err)
			}
			if other.Item != nil {
				o := maps.Clone(other.Item)
				if also.edit(o) {
					items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: o, ConditionExpression: aws.String("attribute_exists(pk)")}})
				}
			}
		}
		items, _, err = s.journal(items, put, pk, meta.Pool, meta.Version, meta.JPart+1, meta.JHead)
		if err != nil {
			return 0, err
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		return idmirror.Changed, translateTxErr(err)
	})
	return err
}

// stateMeta is an entity's journal bookkeeping on its STATE item.
type stateMeta struct {
	Pool    string `dynamodbav:"pool"`
	Version int64  `dynamodbav:"version"`
	JHead   string `dynamodbav:"jhead"`
	JPart   int    `dynamodbav:"jpart"`
}

// stateGuard is the condition that keeps a put of an entity's STATE item to
// the version and journal head it was read at.
func stateGuard(version int64, jhead string) (string, map[string]types.AttributeValue) {
	vals := map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(version)}}
	if jhead == "" {
		return "version = :v AND attribute_not_exists(jhead)", vals
	}
	vals[":h"] = &types.AttributeValueMemberS{Value: jhead}
	return "version = :v AND jhead = :h", vals
}

// nextPartState reads pk's STATE item (consistently) and returns its
// bookkeeping and the guarded put of it as the next journal part of its
// version (adoption and amendments add records without a new version).
// ErrNotFound if the entity is missing.
func (s *Store) nextPartState(ctx context.Context, pk string) (stateMeta, *types.Put, error) {
	var meta stateMeta
	st, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, skState), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return meta, nil, fmt.Errorf("get %s: %w", pk, err)
	}
	if st.Item == nil {
		return meta, nil, fmt.Errorf("%s: %w", pk, idmirror.ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(st.Item, &meta); err != nil {
		return meta, nil, fmt.Errorf("decode %s: %w", pk, err)
	}
	state := maps.Clone(st.Item)
	state["jpart"] = &types.AttributeValueMemberN{Value: fmt.Sprint(meta.JPart + 1)}
	cond, vals := stateGuard(meta.Version, meta.JHead)
	return meta, &types.Put{TableName: aws.String(s.table), Item: state, ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}, nil
}
