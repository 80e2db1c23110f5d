// Package sync keeps the mirror right for every change no trigger sees:
// Reconciler.Run compares a user pool with the mirror (drift report) and, with
// Repair, writes the differences with source "sync"; Refresher handles
// EventBridge "AWS API Call via CloudTrail" events for one pool and refreshes
// the user or group they touched, with source "event".
//
// The package shadows the standard library's name: callers import it as
// idsync "github.com/idmirror/idmirror/sync".
package sync
