package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/mirror"
)

func runTable(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "adopt-journal" {
		return runAdoptJournal(ctx, a, args[1:])
	}
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: idmirror table create --table T | table adopt-journal --table T [--pool P]"}
	}
	fs := newFlags(a, "table create", "table create --table T [--if-not-exists]")
	table := fs.String("table", "", "name of the mirror table to create (required)")
	ifNotExists := fs.Bool("if-not-exists", false, "succeed when the table already exists")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := required(map[string]string{"table": *table}); err != nil {
		return err
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	err = mirror.CreateTable(ctx, mirror.NewClient(cfg), *table)
	switch {
	case errors.Is(err, idmirror.ErrExists) && *ifNotExists:
		fmt.Fprintf(a.stdout, "table %s already exists\n", *table)
		return nil
	case errors.Is(err, idmirror.ErrExists):
		return hintError{err, "pick another --table name, or add --if-not-exists"}
	case err != nil:
		return hintError{err, "check AWS_REGION, credentials and AWS_ENDPOINT_URL_DYNAMODB"}
	}
	fmt.Fprintf(a.stdout, "created table %s\n", *table)
	return nil
}
