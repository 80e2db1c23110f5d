// Package lambdamain holds what every Lambda main does the same way. It
// imports no AWS SDK package: the pre-token function, which does no I/O,
// stays small (the mains that reach AWS load the config themselves and build
// their clients with internal/deps).
package lambdamain

import (
	"fmt"
	"os"
	"strconv"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/idmirror/idmirror"
)

// FieldPool is the log key of a user pool id, in every function (the
// triggers' key).
const FieldPool = "user_pool_id"

// Logger returns a JSON logger on stderr (CloudWatch Logs), level from
// LOG_LEVEL (default info), with the function's name on every line.
func Logger(function string) *zap.Logger {
	level := zapcore.InfoLevel
	if l := os.Getenv("LOG_LEVEL"); l != "" {
		_ = level.Set(l)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(os.Stderr), level)).
		With(zap.String("function", function))
}

// Fail ends a cold start that cannot work, naming the problem.
func Fail(log *zap.Logger, what string, err error) {
	log.Error("cold start failed", zap.String("problem", what), zap.Error(err))
	_ = log.Sync()
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

// Require returns the environment variable, or fails the cold start naming it.
func Require(log *zap.Logger, name, what string) string {
	v := os.Getenv(name)
	if v == "" {
		Fail(log, name, fmt.Errorf("not set: %s", what))
	}
	return v
}

// RoleMap returns the role map in ROLE_MAP (JSON), or the default map
// (admin: admins, operator: operators) when it is not set; a bad map fails
// the cold start with a message naming the problem.
func RoleMap(log *zap.Logger) idmirror.RoleMap {
	s := os.Getenv("ROLE_MAP")
	if s == "" {
		return idmirror.DefaultRoleMap()
	}
	roles, err := idmirror.ParseRoleMap([]byte(s))
	if err != nil {
		Fail(log, "ROLE_MAP", err)
	}
	return roles
}

// Share reads an optional share of Cognito's default rates (0 < share <= 1)
// from the environment; 0 when unset (the pacer's default). A bad value fails
// the cold start with a message naming it.
func Share(log *zap.Logger, name string) float64 {
	s := os.Getenv(name)
	if s == "" {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0 && v <= 1) {
		Fail(log, name, fmt.Errorf("%q: want a number above 0, at most 1", s))
	}
	return v
}
