// Package lambdamain holds what every Lambda main does the same way.
package lambdamain

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

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
