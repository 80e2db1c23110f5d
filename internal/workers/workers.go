// Package workers runs a stream of items through a fixed number of workers.
package workers

import (
	"context"
	"sync"
)

// Run calls produce, which hands items to emit one by one (emit blocks while
// every worker is busy, so memory stays flat), and runs work on each item
// from n goroutines. The first error, from produce or from a worker, cancels
// the context the others see and is returned.
func Run[T any](ctx context.Context, n int, produce func(ctx context.Context, emit func(T) error) error, work func(ctx context.Context, item T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan T)
	var wg sync.WaitGroup
	for range max(n, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				if err := work(ctx, it); err != nil {
					cancel(err)
				}
			}
		}()
	}
	err := produce(ctx, func(it T) error {
		select {
		case items <- it:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(items)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		return cause // a worker's error (or the caller's cancellation)
	}
	return err
}
