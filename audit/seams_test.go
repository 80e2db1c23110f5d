package audit_test

import (
	"github.com/idmirror/idmirror/audit"
	"github.com/idmirror/idmirror/mirror"
)

var _ audit.Mirror = (*mirror.Store)(nil)
