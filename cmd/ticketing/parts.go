package main

import (
	"context"

	"github.com/ticketing/ticketing/internal/auth"
)

// partSpec says how to build one part and where the gateway sends its
// requests (no prefix: it serves no public API).
type partSpec struct {
	name   string
	prefix string
	// url is where `serve gateway` finds the part.
	url   func(Config) string
	build func(context.Context, infra) (*part, error)
}

// catalog lists the parts in start order; `up` runs them all, `serve NAME`
// one of them. Both build them with the same functions.
func catalog() []partSpec {
	return []partSpec{
		{name: "auth", prefix: "/api/users", url: func(c Config) string { return c.AuthURL }, build: buildAuth},
	}
}

func buildAuth(ctx context.Context, in infra) (*part, error) {
	db, err := in.openDB(ctx, "auth", auth.Migrations)
	if err != nil {
		return nil, err
	}
	svc := auth.New(db, in.log.With("service", "auth"), auth.Config{
		Key:            in.key,
		CookieSecure:   in.cfg.CookieSecure,
		RatePerMinute:  in.cfg.AuthRatePerMinute,
		TrustedProxies: in.trusted,
	})
	return &part{name: "auth", db: db, routes: svc.Routes, close: svc.Close}, nil
}
