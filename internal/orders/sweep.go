package orders

import (
	"context"
	"fmt"
	"time"
)

// The sweep is defence in depth for expiries. The normal path is the
// expiration.complete event, which a JetStream message schedule fires at
// the order's expiresAt; should that schedule be lost (purged by mistake,
// a stream restored from an old backup, a dead letter not replayed), the
// order would hold its ticket for good. The sweep expires any unpaid order
// more than SweepGrace past its expiresAt through Expire, the event's own
// path: whichever comes first cancels the order and publishes
// order.cancelled, and the other finds it cancelled and publishes nothing.

const (
	// DefaultSweepEvery is how often the sweep runs.
	DefaultSweepEvery = time.Minute
	// DefaultSweepGrace is how long past its expiresAt an order is left to
	// its expiry event before the sweep expires it.
	DefaultSweepGrace = time.Minute
	// sweepBatch bounds the orders one round expires.
	sweepBatch = 100
)

// RunSweeper runs a sweep at once and then every SweepEvery, until ctx
// ends. Every replica sweeps: two that pick the same order expire it once
// (Expire locks the row).
func (s *Service) RunSweeper(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep expires the unpaid orders more than SweepGrace past their expiry,
// at most a batch of them, and returns how many it looked at. Each one is
// logged: an order the sweep finds means its expiry event went missing.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	ids, err := s.store.OverdueOrders(ctx, s.cfg.Now().Add(-s.cfg.SweepGrace), sweepBatch)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	for _, id := range ids {
		if err := s.Expire(ctx, id); err != nil {
			return 0, fmt.Errorf("sweep order %s: %w", id, err)
		}
		s.log.Warn("order expired by the sweep: its expiry event did not come", "order_id", id)
	}
	return len(ids), nil
}
