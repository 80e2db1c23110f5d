// Package model holds idmirror's model-based test: random sequences of what
// happens to a user pool (sign-ups, admin changes, deletions, CloudTrail
// events delivered late, twice or out of order, reconciles, restores killed
// half-way, strangers in the target pool), run against an in-memory Cognito
// (cognito/mempool) and an in-memory mirror (mirror/memmirror), with the
// invariants the mirror and restore promise checked after every step. It
// needs no emulator; rapid shrinks a failure to a short sequence and prints
// it with the seed.
//
//	go test ./internal/model                             # the default budget
//	go test ./internal/model -rapid.checks=20000 -v      # a long run
package model
