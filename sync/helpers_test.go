package sync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"go.uber.org/zap/zaptest"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/internal/testenv"
	"github.com/idmirror/idmirror/mirror"
	idsync "github.com/idmirror/idmirror/sync"
)

// env is one test's pool, mirror and clients: admin changes go straight to
// cognito-local ("behind the mirror's back"); the code under test reads
// Cognito through the fidelity proxy, so paging and quotas are real.
type env struct {
	t      *testing.T
	direct *cip.Client
	pool   testenv.Pool
	adapt  *cognito.Pool
	store  *mirror.Store
}

func newEnv(t *testing.T, groups ...string) *env {
	t.Helper()
	direct := testenv.CognitoDirect(t)
	proxied := cognito.NewClient(testenv.Config(t))
	testenv.Cognito(t) // fails under make test when the proxy is not there
	db := testenv.DynamoDB(t)
	return &env{t: t, direct: direct, pool: testenv.NewPool(t, direct, groups...),
		adapt: cognito.NewPool(proxied, cognito.NewPacer(cognito.PacerOptions{})),
		store: mirror.New(db, testenv.NewTable(t, db), zaptest.NewLogger(t))}
}

func (e *env) reconcile(o idsync.Options) (*idsync.Report, error) {
	e.t.Helper()
	r := idsync.NewReconciler(e.adapt, e.store, zaptest.NewLogger(e.t), e.adapt.Pacer().Stats, o)
	return r.Run(context.Background(), e.pool.ID)
}

func (e *env) mustReconcile(o idsync.Options) *idsync.Report {
	e.t.Helper()
	rep, err := e.reconcile(o)
	if err != nil {
		e.t.Fatalf("reconcile: %v", err)
	}
	return rep
}

func (e *env) createUser(name string, attrs ...string) string {
	e.t.Helper()
	out, err := e.direct.AdminCreateUser(context.Background(), &cip.AdminCreateUserInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String(name),
		MessageAction: types.MessageActionTypeSuppress, UserAttributes: testenv.Attrs(attrs...)})
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	for _, a := range out.User.Attributes {
		if aws.ToString(a.Name) == "sub" {
			return aws.ToString(a.Value)
		}
	}
	e.t.Fatalf("no sub for %s", name)
	return ""
}

func (e *env) addToGroup(user, group string) {
	e.t.Helper()
	if _, err := e.direct.AdminAddUserToGroup(context.Background(), &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(e.pool.ID), Username: aws.String(user), GroupName: aws.String(group)}); err != nil {
		e.t.Fatal(err)
	}
}

func kinds(rep *idsync.Report) map[string]int {
	out := map[string]int{}
	for _, d := range rep.Drift {
		out[d.Kind]++
	}
	return out
}

// event renders a CloudTrail sample for this pool.
func (e *env) event(name, sub, group string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cloudtrail-"+name+".json"))
	if err != nil {
		e.t.Fatal(err)
	}
	return []byte(strings.NewReplacer("POOL_ID", e.pool.ID, "SUB", sub, "GROUP", group, "CLIENT_ID", e.pool.ClientID,
		"EVENT_TIME", time.Now().UTC().Format(time.RFC3339)).Replace(string(b)))
}

func userName(i int) string { return fmt.Sprintf("user%03d", i) }
