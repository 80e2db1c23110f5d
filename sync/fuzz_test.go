package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror/memmirror"
	idsync "github.com/idmirror/idmirror/sync"
)

// gonePool is a pool where nobody is found: enough for the refresher to
// reach every write path (tombstones) without an emulator.
type gonePool struct{}

func (gonePool) Describe(context.Context, string) (idmirror.PoolConfig, error) {
	return idmirror.PoolConfig{}, nil
}
func (gonePool) ListGroups(context.Context, string) ([]idmirror.Group, error) { return nil, nil }
func (gonePool) GroupMembers(context.Context, string, string, func(string) error) error {
	return nil
}
func (gonePool) ListUsers(context.Context, string, func(idmirror.User, time.Time) error) error {
	return nil
}
func (gonePool) GetUser(context.Context, string, string) (idmirror.User, error) {
	return idmirror.User{}, idmirror.ErrNotFound
}
func (gonePool) GetGroup(context.Context, string, string) (idmirror.Group, error) {
	return idmirror.Group{}, idmirror.ErrNotFound
}
func (gonePool) FindBySub(context.Context, string, string) (string, error) {
	return "", idmirror.ErrNotFound
}

// FuzzRefresherHandle: no input panics; an event is either ignored with no
// error, applied, or refused with ErrUnprocessable — never anything else.
func FuzzRefresherHandle(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "cloudtrail-*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.NewReplacer("POOL_ID", "pool-f", "SUB", "sub-f", "GROUP", "admins", "CLIENT_ID", "client-f",
			"EVENT_TIME", "2026-06-01T10:00:00Z").Replace(string(b)))
	}
	f.Add(`{"detail":`)
	f.Add(`{"source":"aws.cognito-idp","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"AdminDeleteUser","eventTime":"2026-06-01T10:00:00Z","requestParameters":{"userPoolId":"pool-f"},"additionalEventData":{"sub":7}}}`)
	f.Fuzz(func(t *testing.T, ev string) {
		store := memmirror.New()
		ctx := context.Background()
		u := idmirror.User{PoolID: "pool-f", Sub: "sub-f", Username: "fay", Groups: []string{"admins"}, Attributes: map[string]string{"email": "f@x"}}
		if _, err := store.PutUser(ctx, idmirror.UserWrite{User: u, Fields: idmirror.AllFields, At: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC), Source: idmirror.SourceSync}); err != nil {
			t.Fatal(err)
		}
		store.PutGroup(ctx, idmirror.GroupWrite{Group: idmirror.Group{PoolID: "pool-f", Name: "admins"}, At: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC), Source: idmirror.SourceSync})
		r := idsync.NewRefresher(gonePool{}, store, nil, "pool-f", []string{"client-f"})
		o, err := r.Handle(ctx, []byte(ev))
		switch {
		case err != nil && !errors.Is(err, idsync.ErrUnprocessable):
			t.Fatalf("error %v is neither applied nor refused as unprocessable", err)
		case err == nil && o == "":
			t.Fatal("no outcome and no error")
		}
	})
}
