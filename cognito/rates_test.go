package cognito_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
)

func TestParseRates(t *testing.T) {
	if r, err := cognito.ParseRates(nil); err != nil || r != nil {
		t.Fatalf("no specs: %v %v", r, err)
	}
	r, err := cognito.ParseRates([]string{"UserRead=240", "UserCreation=100,UserUpdate=10"})
	if err != nil || r[cognito.UserRead] != 240 || r[cognito.UserCreation] != 100 || r[cognito.UserUpdate] != 10 || r[cognito.UserList] != cognito.DefaultRates[cognito.UserList] {
		t.Fatalf("rates %v %v", r, err)
	}
	for spec, want := range map[string]string{
		"UserRead":              "CATEGORY=RPS",
		"Bogus=3":               "no quota category",
		"UserRead=-1":           "above 0",
		"UserRead=NaN":          "above 0",
		"UserUpdate=50":         "does not let accounts raise UserUpdate",
		"UserList=31":           "does not let accounts raise UserList",
		"Uncategorized=9":       "no quota category",
		"UserResourceUpdate=26": "does not let accounts raise",
	} {
		if _, err := cognito.ParseRates([]string{spec}); !errors.Is(err, idmirror.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrInvalid saying %q", spec, err, want)
		}
	}
	if s := cognito.DescribeRates(r, 0.5); !strings.Contains(s, "UserRead=240") || !strings.Contains(s, "0.5") {
		t.Errorf("describe: %s", s)
	}
}
