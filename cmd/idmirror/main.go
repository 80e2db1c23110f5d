// Command idmirror is the ops and auditor CLI of idmirror.
//
//	idmirror table create --table T                 create the mirror table
//	idmirror sync --table T --pool P [--repair]     drift report and repair
//	idmirror restore --table T --source-pool OLD --target-pool NEW --password-mode M   rebuild a pool
//	idmirror audit members|user|changes|export --table T --pool P     read-only answers for auditors
//	idmirror verify --table T --source-pool OLD --target-pool NEW    compare a restored pool with the mirror
//	idmirror pool create --table T --source-pool OLD --name N          an empty pool from the mirrored configuration
//	idmirror drill --table T --source-pool P [--sample N] [--keep]     restore into a scratch pool, verify, delete
//
// Exit codes (the constants below, mapped in exitCode):
//
//	0   success
//	1   the command failed (the message says what to do next)
//	2   bad usage: unknown command or flag, missing flag
//	3   sync: drift found (without --repair)
//	4   sync: the safety valve refused to tombstone that many users
//	5   the user pool does not exist
//	6   restore: some users could not be restored (see the report); drill: the same, in the scratch pool
//	7   verify, drill: the restored pool differs from the mirror (each difference names the user or group and field);
//	    audit integrity: items the journal does not vouch for (each named)
//	130 interrupted (Ctrl-C)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	gosync "sync"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/idmirror/idmirror/security"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitDrift       = 3 // sync: drift found (without --repair)
	exitRefused     = 4 // sync: the safety valve refused mass tombstones
	exitPoolGone    = 5 // the user pool does not exist
	exitPartial     = 6 // restore: some users could not be restored (see the report)
	exitDiffers     = 7 // verify, drill: the restored pool differs from the mirror; audit integrity: see exitTampered
	exitInterrupted = 130
)

// app is what every command gets: output streams, a logger and the AWS config.
type app struct {
	stdout, stderr io.Writer
	// stdin answers the restore's confirmation prompt; canAsk says whether
	// it is a terminal a person types at.
	stdin     io.Reader
	canAsk    func() bool
	log       *zap.Logger
	awsConfig func(context.Context) (aws.Config, error)
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"table", "manage the mirror table: table create --table T", runTable},
		{"sync", "report (and --repair) drift between a user pool and the mirror", runSync},
		{"restore", "rebuild a user pool from the mirror (as of now or --as-of)", runRestore},
		{"audit", "read-only answers for auditors: members, user, changes, export", runAudit},
		{"verify", "compare a restored pool with the mirror, field by field", runVerify},
		{"pool", "create an empty pool from the mirrored configuration: pool create", runPool},
		{"drill", "restore into a scratch pool, verify it, delete it: RTO and RPO measured", runDrill},
	}
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// hintError carries what the operator should do next.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(os.Stderr)
	defer func() { _ = log.Sync() }()
	a := &app{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, canAsk: func() bool { return isTerminal(os.Stdin) }, log: log, awsConfig: func(ctx context.Context) (aws.Config, error) {
		return config.LoadDefaultConfig(ctx)
	}}
	os.Exit(run(ctx, a, os.Args[1:]))
}

func run(ctx context.Context, a *app, args []string) int {
	// Progress, security events and messages reach stderr from several
	// goroutines: one lock keeps their lines whole.
	if _, ok := a.stderr.(*lockedWriter); !ok {
		a.stderr = &lockedWriter{w: a.stderr}
	}
	err := dispatch(ctx, a, args)
	code := exitCode(ctx, err)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(a.stderr, "Error: %v\n", err)
		var h hintError
		if errors.As(err, &h) && h.hint != "" {
			fmt.Fprintf(a.stderr, "Try: %s\n", h.hint)
		}
	}
	return code
}

func exitCode(ctx context.Context, err error) int {
	var u usageError
	var c codedError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case ctx.Err() != nil:
		return exitInterrupted
	case errors.As(err, &u):
		return exitUsage
	case errors.As(err, &c):
		return c.code
	}
	return exitFailed
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu gosync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// codedError ends the command with a specific exit code.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

func dispatch(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(a.stdout)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, a, args[1:])
		}
	}
	return usageError{fmt.Sprintf("unknown command %q (idmirror help lists the commands)", args[0])}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: idmirror COMMAND [flags]\n\nCommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nAWS access uses the SDK's standard configuration: the default credential chain, AWS_REGION,\nAWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER.")
}

// config loads the AWS configuration a command reaches AWS with.
func (a *app) config(ctx context.Context) (aws.Config, error) {
	cfg, err := a.awsConfig(ctx)
	if err != nil {
		return aws.Config{}, hintError{fmt.Errorf("load AWS config: %w", err), "check AWS_REGION and the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, …)"}
	}
	return cfg, nil
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(a *app, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: idmirror %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and turns flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// required reports the first missing required string flag.
func required(flags map[string]string) error {
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if flags[n] == "" {
			return usageError{"missing required flag --" + n}
		}
	}
	return nil
}

// security returns the emitter of the command's security events: the log
// line on stderr (always written, whatever the log level) and the EMF
// metric line on stderr too, which CloudWatch extracts where stderr goes to
// CloudWatch Logs through its agent; elsewhere the log line is the record.
func (a *app) security() *security.Emitter {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(a.stderr), zapcore.InfoLevel))
	return security.New(log, a.stderr, "cli")
}

func newLogger(w io.Writer) *zap.Logger {
	level := zapcore.WarnLevel
	if l := os.Getenv("IDMIRROR_LOG_LEVEL"); l != "" {
		_ = level.Set(l)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), level))
}
