// Package aws holds the SAM templates of idmirror (identity.yaml, the
// identity stack; app.yaml, the example back-office app stack). Its tests
// parse the templates without resolving intrinsic functions and check the
// properties the design depends on. It is named after its directory, as Go
// expects; nothing imports it, so it never meets the SDK's aws package in a
// file (its tests do not import that one either).
package aws
