// Command pretoken is the pre-token-generation Lambda: role claims and
// scopes from the user's groups, under an optional business-hours policy
// (see triggers.PreToken). It does no I/O.
//
// Environment:
//   - ROLE_MAP (optional): the role map as JSON, for example
//     {"roles":[{"name":"admin","groups":["admins"],"scopes":["backoffice/personal-data"]}]};
//     without it the default map (admin: admins, operator: operators) applies.
//   - ACCESS_HOURS (optional): the business-hours policy as JSON (README,
//     "Business-hours access"); without it every token is issued at any hour.
//
// A bad map or policy fails the cold start with a message naming the problem.
// Out-of-hours security events go to the log (stderr) and, as CloudWatch
// Embedded Metric Format lines, to stdout.
package main

import (
	"os"
	"time"
	_ "time/tzdata" // provided.al2023 has no zoneinfo: the policy's zone comes from the binary

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/internal/lambdamain"
	"github.com/idmirror/idmirror/security"
	"github.com/idmirror/idmirror/triggers"
)

func main() {
	start := time.Now()
	log := lambdamain.Logger("pretoken")
	roles := lambdamain.RoleMap(log)
	opt := triggers.PreTokenOptions{Security: security.New(log, os.Stdout, "pre-token")}
	if s := os.Getenv("ACCESS_HOURS"); s != "" {
		hours, err := triggers.ParseAccessHours([]byte(s), roles)
		if err != nil {
			lambdamain.Fail(log, "ACCESS_HOURS", err)
		}
		opt.Hours = hours
	}
	h, err := triggers.NewPreToken(roles, log, opt)
	if err != nil {
		lambdamain.Fail(log, "role map", err)
	}
	fields := []zap.Field{zap.Duration("init", time.Since(start)), zap.Int("roles", len(roles.Roles))}
	if opt.Hours != nil {
		fields = append(fields, zap.String("access_hours_zone", opt.Hours.TimeZone))
	}
	log.Info("ready", fields...)
	lambda.Start(h)
}
