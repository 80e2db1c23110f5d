package sync_test

import (
	idsync "github.com/idmirror/idmirror/sync"

	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror"
)

var (
	_ idsync.Mirror     = (*mirror.Store)(nil)
	_ idsync.PoolReader = (*cognito.Pool)(nil)
)
