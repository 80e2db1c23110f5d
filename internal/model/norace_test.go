//go:build !race

package model_test

const defaultChecks = "1000"
