// Package awsdeploy holds the SAM templates of idmirror (identity.yaml, the
// identity stack; app.yaml, the example back-office app stack). Its tests
// parse the templates without resolving intrinsic functions and check the
// properties the design depends on.
package awsdeploy
