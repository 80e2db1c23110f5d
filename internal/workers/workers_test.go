package workers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestRunAllItems(t *testing.T) {
	var sum atomic.Int64
	err := Run(context.Background(), 4, func(ctx context.Context, emit func(int) error) error {
		for i := 1; i <= 100; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	}, func(_ context.Context, i int) error { sum.Add(int64(i)); return nil })
	if err != nil || sum.Load() != 5050 {
		t.Fatalf("sum %d, %v", sum.Load(), err)
	}
}

func TestFirstWorkerErrorStopsTheStream(t *testing.T) {
	boom := errors.New("boom")
	var emitted atomic.Int64
	err := Run(context.Background(), 2, func(ctx context.Context, emit func(int) error) error {
		for i := range 1000000 {
			if err := emit(i); err != nil {
				return err
			}
			emitted.Add(1)
		}
		return nil
	}, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || emitted.Load() > 1000 {
		t.Fatalf("err %v after %d items", err, emitted.Load())
	}
}

func TestProducerError(t *testing.T) {
	bad := errors.New("bad page")
	err := Run(context.Background(), 2, func(ctx context.Context, emit func(int) error) error { return bad },
		func(context.Context, int) error { return nil })
	if !errors.Is(err, bad) {
		t.Fatal(err)
	}
}
