// Command pretoken is the pre-token-generation Lambda: role claims and
// scopes from the user's groups (see triggers.PreToken). It does no I/O.
//
// Environment: ROLE_MAP (optional) — the role map as JSON, for example
// {"roles":[{"name":"admin","groups":["admins"],"scopes":["backoffice/personal-data"]}]};
// without it the default map (admin: admins, operator: operators) applies. A
// bad map fails the cold start with a message naming the problem.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/internal/lambdamain"
	"github.com/idmirror/idmirror/triggers"
)

func main() {
	start := time.Now()
	log := lambdamain.Logger("pretoken")
	roles := lambdamain.RoleMap(log)
	h, err := triggers.NewPreToken(roles, log)
	if err != nil {
		lambdamain.Fail(log, "role map", err)
	}
	log.Info("ready", zap.Duration("init", time.Since(start)), zap.Int("roles", len(roles.Roles)))
	lambda.Start(h)
}
