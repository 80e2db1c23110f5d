// Package security turns what idmirror sees and does into security events:
// one structured log line (zap, the stable field names below) and one
// CloudWatch Embedded Metric Format line per event, so alarms on the metrics
// tell someone (the identity stack's alert topic) and the log line says what
// happened. Field names and metric names are part of the contract documented
// in docs/security-events.md; change them only with the alarms.
package security

import (
	"io"
	"strconv"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	"github.com/idmirror/idmirror/internal/redact"
)

// Kind names a security event.
type Kind string

// The kinds, stable: they are metric dimension values and alarm names use them.
const (
	RoleGranted         Kind = "role_granted"          // a membership that gives a role under the role map in force
	RoleMapChanged      Kind = "role_map_changed"      // the recorded role map changed
	GroupChanged        Kind = "group_changed"         // a group definition was created, changed or deleted
	PrivilegedDisabled  Kind = "privileged_disabled"   // a holder of the most privileged role was disabled
	PrivilegedEnabled   Kind = "privileged_enabled"    // ... or enabled
	MassDeletionStopped Kind = "mass_deletion_stopped" // the reconcile's safety valve refused to tombstone
	RestoreRan          Kind = "restore_ran"           // an idmirror restore wrote to a pool
	DrillRan            Kind = "drill_ran"             // an idmirror drill ran (its scratch pool raises nothing else)
	OutOfHoursAllowed   Kind = "out_of_hours_alert"    // a token issued outside working hours under policy "alert"
	OutOfHoursDowngrade Kind = "out_of_hours_downgrade"
	OutOfHoursDenied    Kind = "out_of_hours_deny"
)

// Log field keys: stable, documented.
const (
	FieldEvent   = "security_event" // the Kind
	FieldPool    = "pool_id"
	FieldRole    = "role"
	FieldGroup   = "group"
	FieldSub     = "sub"
	FieldActor   = "actor"
	FieldSource  = "source"
	FieldCount   = "count"
	FieldDetail  = "detail"
	FieldAt      = "at"
	FieldEmitter = "emitter" // not "function": the Lambdas' loggers carry that key already
)

// Namespace and metric name of the EMF metric. Dimensions: [Kind] and
// [Kind, Role] (Role "none" when the event concerns no role).
const (
	Namespace  = "idmirror/security"
	MetricName = "SecurityEvents"
	NoRole     = "none"
)

// Event is one security event: subs, pool ids, group and role names, and
// the actor's ARN. The log line masks any email address in the actor (a
// session name can be one) and the detail.
type Event struct {
	Kind   Kind
	PoolID string
	Role   string // the role concerned, "" if none
	Group  string
	Sub    string
	Actor  string // who did it (an ARN, or a description such as "sync (observed, actor unknown)")
	Source string // the idmirror part that saw it (trigger, sync, event, restore, drill)
	Count  int    // how many (mass deletion candidates, users restored); 0 if not meaningful
	Detail string // short, no personal data
	At     time.Time
}

// Emitter writes security events. A nil *Emitter drops them.
type Emitter struct {
	log      *zap.Logger
	mu       gosync.Mutex
	metrics  io.Writer
	buf      []byte
	function string
	now      func() time.Time
}

// New returns an emitter logging to log (nil → none) and writing EMF lines to
// metrics (nil → none; in Lambda, os.Stdout). function names the emitter in
// both ("reconcile", "refresh", "pre-token", "cli").
func New(log *zap.Logger, metrics io.Writer, function string) *Emitter {
	if log == nil {
		log = zap.NewNop()
	}
	if metrics == nil {
		metrics = io.Discard
	}
	return &Emitter{log: log, metrics: metrics, function: function, now: time.Now}
}

// SetClock replaces the clock used when an event carries no time (tests).
func (e *Emitter) SetClock(now func() time.Time) { e.now = now }

// Emit logs ev and writes its metric.
func (e *Emitter) Emit(ev Event) {
	if e == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = e.now()
	}
	fields := []zap.Field{
		zap.String(FieldEvent, string(ev.Kind)),
		zap.String(FieldEmitter, e.function),
		zap.Time(FieldAt, ev.At.UTC()),
	}
	for _, f := range []struct{ k, v string }{
		{FieldPool, ev.PoolID}, {FieldRole, ev.Role}, {FieldGroup, ev.Group}, {FieldSub, ev.Sub},
		{FieldActor, redact.Emails(ev.Actor)}, {FieldSource, ev.Source}, {FieldDetail, redact.Emails(ev.Detail)},
	} {
		if f.v != "" {
			fields = append(fields, zap.String(f.k, f.v))
		}
	}
	if ev.Count != 0 {
		fields = append(fields, zap.Int(FieldCount, ev.Count))
	}
	// One emitter's log line and metric line go out together, even when
	// they share a writer (the CLI's stderr) and writes come from many
	// goroutines.
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log.Warn("security event", fields...)
	e.metric(ev)
}

// metric writes ev's EMF line; the caller holds e.mu.
func (e *Emitter) metric(ev Event) {
	role := ev.Role
	if role == "" {
		role = NoRole
	}
	// Appended by hand, not marshalled from maps: the pre-token trigger
	// emits on its warm path outside working hours. Kinds are constants,
	// role names match the role map's [a-z][a-z0-9_-]* and the function
	// name is a constant, so quoting them is plain.
	b := append(e.buf[:0], `{"_aws":{"Timestamp":`...)
	// The metric is stamped when it is emitted, not when the change was
	// observed: a reconcile's observation can be minutes old, and a data
	// point in a period an alarm has already evaluated would never alarm.
	b = strconv.AppendInt(b, e.now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":"`+Namespace+`","Dimensions":[["Kind"],["Kind","Role"]],"Metrics":[{"Name":"`+MetricName+`","Unit":"Count"}]}]},"Kind":`...)
	b = strconv.AppendQuote(b, string(ev.Kind))
	b = append(b, `,"Role":`...)
	b = strconv.AppendQuote(b, role)
	b = append(b, `,"Function":`...)
	b = strconv.AppendQuote(b, e.function)
	b = append(b, `,"`+MetricName+`":1}`+"\n"...)
	e.buf = b
	_, _ = e.metrics.Write(b)
}
