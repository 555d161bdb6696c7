package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// hashMiB is the memory one argon2id computation of auth holds (its m
// parameter, internal/auth): auth runs at most GOMAXPROCS of them at once.
const hashMiB = 19

// limitMemory gives `serve auth` a soft memory limit, unless GOMEMLIMIT
// sets one: room for every password hash auth may run at once and 16 MiB
// for the rest (54 MiB on two cores). Each sign-up or sign-in allocates a
// 19 MiB block that is garbage as soon as the hash is done, and a process
// that then goes idle runs no collection to reclaim it: after a burst of
// sign-ins, auth kept over 80 MiB while its live heap was 2 MiB
// (docs/PERFORMANCE.md). Under the limit a collection runs as the limit
// nears, and frees the last burst's blocks to be reused by the next one
// instead of growing past them. The blocks hold no pointers, so such a
// collection has little to mark beside the tens of milliseconds of a
// hash. The other parts allocate little and keep Go's
// defaults; `up` too, whose process holds every part.
func limitMemory(part string, log *slog.Logger) {
	if part != "auth" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(runtime.GOMAXPROCS(0)*hashMiB+16) << 20
	debug.SetMemoryLimit(limit)
	log.Debug("memory limit", "bytes", limit)
}

// How often a `serve` process looks for memory it holds and does not use,
// and how much of it it keeps.
const (
	freeMemoryEvery = 30 * time.Second
	freeMemoryOver  = 8 << 20
)

// returnFreeMemory hands back to the system, every freeMemoryEvery until
// ctx ends, the heap a burst left behind (freeHeld). Go's own scavenger
// returns memory only as far as the goal set at the last collection, and
// an idle process runs none for two minutes: after a burst (sign-ins, a
// flash sale's connections) a part kept tens of MiB it no longer used
// (docs/PERFORMANCE.md). Under a steady load the heap stays within twice
// its live size, so this does nothing.
func returnFreeMemory(ctx context.Context) {
	t := time.NewTicker(freeMemoryEvery)
	defer t.Stop()
	var h heldMemory
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.free(freeMemoryOver)
		}
	}
}

// heldMemory remembers the live heap measured when it last freed memory.
type heldMemory struct{ live uint64 }

// free collects and returns the free pages to the system
// (debug.FreeOSMemory) when the heap the process holds (objects, garbage
// not yet collected included, and free pages not yet returned) exceeds
// twice the live heap it last measured by more than over: more than a
// collection cycle's garbage. It reports whether it did.
func (h *heldMemory) free(over uint64) bool {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	metrics.Read(s)
	var held uint64
	for _, x := range s[:3] {
		held += x.Value.Uint64()
	}
	if held <= 2*h.live+over {
		return false
	}
	debug.FreeOSMemory()
	metrics.Read(s[3:])
	h.live = s[3].Value.Uint64() // just collected: the live heap now
	return true
}
