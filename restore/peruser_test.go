package restore_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/restore"
)

// Cognito holds each user to 10 writes (and 10 reads) a second, whatever the
// category quotas leave. A user in 20 groups costs restore about 23 writes
// of that one user (create, 20 memberships, disable, …): at the full
// UserUpdate rate (25 a second) they would be refused by the per-user quota.
// The pacer keeps them within it: the proxy, which enforces it, refuses none.
func TestRestoreUserInTwentyGroupsWithinPerUserQuota(t *testing.T) {
	groups := make([]string, 20)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%02d", i)
	}
	e := newEnv(t, groups...)
	e.seed([]seedUser{{name: "many", groups: groups, disabled: true, tenant: "t1"}, {name: "few", groups: groups[:2], tenant: "t1"}})
	e.mirrorSource()
	want, wantGroups := snapshot(t, e.direct, e.source.ID)

	proxy := testenv.Proxy(t, 1) // Cognito's default rates, per-user quota included
	paced := testenv.PacedPool(t, proxy, 1)
	target := e.target()
	rep, err := restore.New(e.store, paced, paced.Pacer().Stats, nil).Run(t.Context(),
		restore.Options{SourcePool: e.source.ID, TargetPool: target.ID, PasswordMode: restore.Suppress})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[restore.Create] != 2 || rep.Counts[restore.Failed] != 0 {
		t.Fatalf("counts %v", rep.Counts)
	}
	got, gotGroups := snapshot(t, e.direct, target.ID)
	compare(t, "group", wantGroups, gotGroups)
	compare(t, "user", want, got)

	resp, err := http.Get(proxy + "/_proxy/counts?pool=" + target.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var counts struct {
		Calls         map[string]int `json:"calls"`
		UserThrottled map[string]int `json:"user_throttled"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls, %d throttled; proxy: %d AdminAddUserToGroup, refused per user %v", rep.Calls, rep.Throttled, counts.Calls["AdminAddUserToGroup"], counts.UserThrottled)
	if counts.Calls["AdminAddUserToGroup"] < 22 {
		t.Fatalf("%d AdminAddUserToGroup calls: the memberships were not restored one by one", counts.Calls["AdminAddUserToGroup"])
	}
	// The target's groups are read with one ListGroups page, not a GetGroup
	// per group (UserPoolResourceRead: 5 RPS per pool and operation).
	if counts.Calls["GetGroup"] != 0 || counts.Calls["ListGroups"] != 1 {
		t.Errorf("%d GetGroup and %d ListGroups calls for 20 groups, want 0 and 1", counts.Calls["GetGroup"], counts.Calls["ListGroups"])
	}
	for op, n := range counts.UserThrottled {
		if n > 0 {
			t.Errorf("%s: %d calls refused by the per-user quota", op, n)
		}
	}
}
