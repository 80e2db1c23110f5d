package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
)

// A reconcile reads memberships before it lists users, so the groups of a
// user it sees first are an observation older than the user's first item.
// That observation must not invent the fields it did not see: no history item
// before the user was observed whole; the first item tells the groups.
func TestLateGroupsOfANewUserInventNothing(t *testing.T) {
	db := testenv.DynamoDB(t)
	s := mirror.New(db, testenv.NewTable(t, db), nil)
	ctx := context.Background()
	u := alice("pool-p")
	listed := idmirror.AllFields &^ idmirror.FieldGroups
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: listed, At: at(2), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(1), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	hist, err := s.UserHistory(ctx, "pool-p", u.Sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || !hist[0].At.Equal(at(2)) {
		t.Fatalf("history: %d items (first at %v), want one, at the first whole observation", len(hist), hist[0].At)
	}
	if fmt.Sprint(hist[0].State.Groups) != "[admins]" || hist[0].Fields["groups"] != (idmirror.FieldChange{After: "admins"}) || hist[0].Fields["email"].After == "" {
		t.Fatalf("first item: state groups %v, changes %v", hist[0].State.Groups, hist[0].Fields)
	}
	if _, err := s.UserAsOf(ctx, "pool-p", u.Sub, at(1)); !errors.Is(err, idmirror.ErrNotFound) {
		t.Fatalf("as of the groups observation the user was not known whole: %v", err)
	}
	if ms, err := s.Members(ctx, "pool-p", "admins", at(1)); err != nil || len(ms) != 1 {
		t.Fatalf("the membership observed at 1 holds from 1: %v %v", ms, err)
	}
	// A later but still earlier-than-the-first-item observation of no groups:
	// the first item's state and changes are recounted, not left saying admins.
	u.Groups = nil
	if _, err := s.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.FieldGroups, At: at(1).Add(30 * time.Second), Source: idmirror.SourceSync}); err != nil {
		t.Fatal(err)
	}
	hist, _ = s.UserHistory(ctx, "pool-p", u.Sub)
	if _, ok := hist[0].Fields["groups"]; len(hist) != 1 || len(hist[0].State.Groups) != 0 || ok {
		t.Fatalf("after a late removal: %d items, state groups %v, changes %v", len(hist), hist[0].State.Groups, hist[0].Fields)
	}
}
