package cognito

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/idmirror/idmirror"
)

// ParseRates reads an account's own rates, "CATEGORY=RPS" each (the quotas
// it raised through Service Quotas), over AWS's defaults. A category AWS
// does not let accounts adjust (Adjustable) cannot be set above its default:
// pacing above it would only be throttled. nil specs give nil (the defaults).
func ParseRates(specs []string) (map[Category]float64, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	rates := make(map[Category]float64, len(DefaultRates))
	for c, r := range DefaultRates {
		rates[c] = r
	}
	for _, spec := range specs {
		for _, one := range strings.Split(spec, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(one), "=")
			c := Category(name)
			def, known := DefaultRates[c]
			rps, err := strconv.ParseFloat(value, 64)
			switch {
			case !ok:
				return nil, fmt.Errorf("%w: rate %q: want CATEGORY=RPS, like UserRead=240", idmirror.ErrInvalid, one)
			case !known || c == Uncategorized:
				return nil, fmt.Errorf("%w: rate %q: no quota category %q (one of %s)", idmirror.ErrInvalid, one, name, strings.Join(categoryNames(), ", "))
			case err != nil || math.IsNaN(rps) || math.IsInf(rps, 0) || rps <= 0:
				return nil, fmt.Errorf("%w: rate %q: want a number of requests per second above 0", idmirror.ErrInvalid, one)
			case rps > def && !Adjustable(c):
				return nil, fmt.Errorf("%w: rate %q: AWS does not let accounts raise %s above its default, %g requests per second", idmirror.ErrInvalid, one, c, def)
			}
			rates[c] = rps
		}
	}
	return rates, nil
}

// DescribeRates says which rates differ from AWS's defaults, for the start of a run.
func DescribeRates(rates map[Category]float64, share float64) string {
	var own []string
	for c, r := range rates {
		if r != DefaultRates[c] {
			own = append(own, fmt.Sprintf("%s=%g", c, r))
		}
	}
	sort.Strings(own)
	if share <= 0 {
		share = 0.5 // the pacer's default
	}
	what := "AWS's default rates"
	if len(own) > 0 {
		what = "the account's rates " + strings.Join(own, " ") + " and AWS's defaults for the rest"
	}
	return fmt.Sprintf("pacing at %g of %s", share, what)
}

func categoryNames() []string {
	var out []string
	for c := range DefaultRates {
		if c != Uncategorized {
			out = append(out, string(c))
		}
	}
	sort.Strings(out)
	return out
}
