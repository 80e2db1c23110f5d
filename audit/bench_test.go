package audit_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// BenchmarkAudit measures audit members and audit changes over a mirror of
// IDMIRROR_BENCH_USERS users (default 2000; the closing note used 50000):
// 2% admins, 10% operators, all mirrored within one day.
//
//	IDMIRROR_BENCH_USERS=50000 go test -run XXX -bench Audit -benchtime 3x ./audit
func BenchmarkAudit(b *testing.B) {
	n := 2000
	if s := os.Getenv("IDMIRROR_BENCH_USERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	db := testenv.DynamoDB(b)
	s := mirror.New(db, testenv.NewTable(b, db), nil)
	ctx := context.Background()
	base := time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC)
	s.PutRoleMap(ctx, "p", idmirror.DefaultRoleMap(), base, idmirror.SourceSync)
	start := time.Now()
	testenv.ForEach(b, n, 16, func(i int) error {
		u := idmirror.User{PoolID: "p", Sub: fmt.Sprintf("sub-%06d", i), Username: fmt.Sprintf("user%06d", i), Enabled: true, Status: "CONFIRMED",
			Attributes: map[string]string{"email": fmt.Sprintf("user%06d@example.com", i), "custom:tenant": "t1"}}
		if i%50 == 0 {
			u.Groups = []string{"admins"}
		} else if i%10 == 0 {
			u.Groups = []string{"operators"}
		}
		at := base.Add(time.Duration(i) * time.Second) // within one day for 50,000 users
		_, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: at, Source: idmirror.SourceSync})
		return err
	})
	b.Logf("seeded %d users into DynamoDB Local in %s", n, time.Since(start).Round(time.Millisecond))
	a := audit.New(s)
	b.Run("members-role-admin", func(b *testing.B) {
		for b.Loop() {
			rows, _, err := a.Members(ctx, audit.MembersQuery{PoolID: "p", Role: "admin"})
			if err != nil || len(rows) != (n+49)/50 {
				b.Fatalf("%d rows, %v", len(rows), err)
			}
		}
	})
	b.Run("members-role-admin-as-of", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := a.Members(ctx, audit.MembersQuery{PoolID: "p", Role: "admin", AsOf: base.Add(time.Duration(n/2) * time.Second)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("changes-field-groups-whole-day", func(b *testing.B) {
		for b.Loop() {
			rows := 0
			err := a.Changes(ctx, idmirror.ChangeQuery{PoolID: "p", From: base, To: base.Add(24 * time.Hour)}, "groups", "", func(audit.ChangeRow) error { rows++; return nil })
			if err != nil || rows != (n+49)/50+(n+9)/10-(n+49)/50 {
				b.Fatalf("%d rows, %v", rows, err)
			}
		}
	})
}
