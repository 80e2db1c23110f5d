package mirror

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SetClock sets the store's clock (tests that pin stored bytes).
func SetClock(s *Store, now func() time.Time) { s.now = now }

// AmendHistory is amendHistory (for the lead's actor attachment; tested here).
func AmendHistory(ctx context.Context, s *Store, pk, sk string, edit func(map[string]types.AttributeValue) error) error {
	return s.amendHistory(ctx, pk, sk, edit)
}
