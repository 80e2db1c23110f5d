package restore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/idmirror/idmirror"
)

// nameIndex finds mirrored users the target pool would take for one: their
// sign-in names (usernames, or the email or phone number a pool signs in
// with), or the values of the target's alias attributes, equal once the
// target ignores case. A case-insensitive pool (UsernameConfiguration
// CaseSensitive false) matches usernames, preferred_username and the email
// alias in any case
// (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UsernameConfigurationType.html);
// an alias (a verified email or phone number, a preferred_username) belongs
// to one user of a pool.
type nameIndex struct {
	fold    bool
	aliases []string
	seen    map[string]map[string]string // what → folded value → "name (user …)"
	hits    map[string]bool
}

func newNameIndex(target idmirror.PoolConfig) *nameIndex {
	return &nameIndex{fold: !target.UsernamesCaseSensitive(), aliases: target.AliasAttributes,
		seen: map[string]map[string]string{}, hits: map[string]bool{}}
}

// add records a user restored under key.
func (n *nameIndex) add(key string, u idmirror.User) {
	n.note("sign-in names", key, u, n.fold)
	for _, a := range n.aliases {
		v := u.Attributes[a]
		switch a {
		case "email":
			if u.Attributes["email_verified"] == "true" {
				n.note("verified emails (an alias)", v, u, n.fold)
			}
		case "phone_number":
			if u.Attributes["phone_number_verified"] == "true" {
				n.note("verified phone numbers (an alias)", v, u, false)
			}
		case "preferred_username":
			n.note("preferred usernames (an alias)", v, u, n.fold)
		}
	}
}

func (n *nameIndex) note(what, value string, u idmirror.User, fold bool) {
	if value == "" {
		return
	}
	k := value
	if fold {
		k = strings.ToLower(value)
	}
	if n.seen[what] == nil {
		n.seen[what] = map[string]string{}
	}
	this := fmt.Sprintf("%q (user %s)", value, u.Username)
	first, ok := n.seen[what][k]
	if !ok {
		n.seen[what][k] = this
		return
	}
	why := ""
	if fold {
		why = ", and the target ignores case"
	}
	n.hits[fmt.Sprintf("%s %s and %s%s", what, first, this, why)] = true
}

// collisions lists what would fold together (at most ten, then a count).
func (n *nameIndex) collisions() []string {
	out := make([]string, 0, len(n.hits))
	for h := range n.hits {
		out = append(out, h)
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("and %d more", len(out)-10))
	}
	return out
}
