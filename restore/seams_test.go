package restore_test

import (
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror"
	"github.com/idmirror/idmirror/restore"
)

var (
	_ restore.Mirror = (*mirror.Store)(nil)
	_ restore.Target = (*cognito.Pool)(nil)
)
