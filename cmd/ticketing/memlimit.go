package main

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
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
// collection costs well under a millisecond beside the tens of
// milliseconds of a hash. The other parts allocate little and keep Go's
// defaults; `up` too, whose process holds every part.
func limitMemory(part string, log *slog.Logger) {
	if part != "auth" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(runtime.GOMAXPROCS(0)*hashMiB+16) << 20
	debug.SetMemoryLimit(limit)
	log.Debug("memory limit", "bytes", limit)
}
