//go:build race

package model_test

// The race detector makes the model about six times slower: a smaller default budget keeps make test quick.
const defaultChecks = "250"
