package mirror

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// timeLayout is fixed width, so observation times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

const (
	skState   = "STATE"
	skHistory = "H#" // H#<observedAt>#<version>
	skMember  = "M#" // M#<grantedAt>#<sub> (under a group)
	skHighest = "#~" // sorts after every "#<digits>" suffix
)

func userPK(pool, sub string) string   { return "P#" + pool + "#U#" + sub }
func groupPK(pool, name string) string { return "P#" + pool + "#G#" + name }
func configPK(pool string) string      { return "P#" + pool + "#CONFIG" }
func roleMapPK(pool string) string     { return "P#" + pool + "#ROLEMAP" }
func historySK(at string, version int64) string {
	return fmt.Sprintf("%s%s#%010d", skHistory, at, version)
}
func memberSK(grantedAt, sub string) string { return skMember + grantedAt + "#" + sub }

func unameKey(pool, username string) string { return pool + "#" + username }
func emailKey(pool, email string) string    { return pool + "#" + strings.ToLower(email) }
func poolUserKey(pool string, shard int) string {
	return fmt.Sprintf("%s#U#%02d", pool, shard)
}
func poolGroupKey(pool string) string { return pool + "#G" }
func dayKey(pool string, day time.Time, shard int) string {
	return fmt.Sprintf("%s#%s#%d", pool, day.UTC().Format("2006-01-02"), shard)
}

func shardOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}
