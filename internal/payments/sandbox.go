package payments

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"sync"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// Sandbox is the provider of `ticketing up` and the tests: no money moves.
// It behaves like Stripe's test mode for Stripe's test tokens: tok_visa and
// pm_card_visa succeed, tok_chargeDeclined and pm_card_chargeDeclined are
// declined with Stripe's message, anything else is an invalid token. Like
// Stripe it honours idempotency keys (the same key returns the first
// result, declines included, and charges once; the same key with other
// parameters is refused), so tests can count real charges. It is safe for
// concurrent use.
type Sandbox struct {
	mu       sync.Mutex
	charges  map[string]*sandboxCharge // by charge id
	byKey    map[string]sandboxResult  // charges by idempotency key
	refundBy map[string]string         // refunds: idempotency key → charge id
	refunds  int
	// Payout accounts (account.go): by idempotency key, and how many.
	accountBy map[string]string
	accounts  int
	// Payouts (payout.go): by idempotency key, in the order made.
	transferBy map[string]sandboxTransfer
	transfers  []TransferRequest
}

type sandboxTransfer struct {
	req      TransferRequest
	transfer Transfer
}

type sandboxCharge struct {
	req      ChargeRequest
	refunded bool
}

type sandboxResult struct {
	req    ChargeRequest
	charge Charge
	err    error
}

// NewSandbox returns an empty sandbox provider.
func NewSandbox() Provider {
	return &Sandbox{
		charges:    map[string]*sandboxCharge{},
		byKey:      map[string]sandboxResult{},
		refundBy:   map[string]string{},
		accountBy:  map[string]string{},
		transferBy: map[string]sandboxTransfer{},
	}
}

// Name is "sandbox".
func (s *Sandbox) Name() string { return "sandbox" }

// errSandboxDeclined is the sandbox's decline, worded as Stripe's.
var errSandboxDeclined = fault.New(fault.Declined, "Your card was declined.")

// Charge charges req.Token, once per idempotency key.
func (s *Sandbox) Charge(ctx context.Context, req ChargeRequest) (Charge, error) {
	if err := ctx.Err(); err != nil {
		return Charge{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.IdempotencyKey != "" {
		if prev, ok := s.byKey[req.IdempotencyKey]; ok {
			if prev.req != req {
				return Charge{}, fault.New(fault.Invalid,
					"Keys for idempotent requests can only be used with the same parameters they were first used with.")
			}
			return prev.charge, prev.err
		}
	}
	var (
		c   Charge
		err error
	)
	switch {
	case req.Amount <= 0:
		err = &fault.Error{Kind: fault.Invalid, Message: "Amount must be positive"}
	case req.Token == "tok_visa" || req.Token == "pm_card_visa":
		c = Charge{ID: "sandbox_ch_" + rand.Text()}
		s.charges[c.ID] = &sandboxCharge{req: req}
	case req.Token == "tok_chargeDeclined" || req.Token == "pm_card_chargeDeclined":
		err = errSandboxDeclined
	default:
		err = &fault.Error{Kind: fault.Invalid, Field: "token", Message: "Invalid card token"}
	}
	if req.IdempotencyKey != "" {
		s.byKey[req.IdempotencyKey] = sandboxResult{req: req, charge: c, err: err}
	}
	return c, err
}

// Refund refunds a whole charge, once per idempotency key; refunding a
// refunded charge under another key is ErrAlreadyRefunded.
func (s *Sandbox) Refund(ctx context.Context, req RefundRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.IdempotencyKey != "" {
		if id, ok := s.refundBy[req.IdempotencyKey]; ok {
			if id != req.ChargeID {
				return fault.New(fault.Invalid,
					"Keys for idempotent requests can only be used with the same parameters they were first used with.")
			}
			return nil
		}
	}
	c, ok := s.charges[req.ChargeID]
	switch {
	case !ok:
		return fault.New(fault.Invalid, "No such charge: "+req.ChargeID)
	case c.refunded:
		return ErrAlreadyRefunded
	}
	c.refunded = true
	s.refunds++
	if req.IdempotencyKey != "" {
		s.refundBy[req.IdempotencyKey] = req.ChargeID
	}
	return nil
}

// Charges reports how many successful charges the sandbox made.
func (s *Sandbox) Charges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.charges)
}

// Refunds reports how many charges the sandbox refunded.
func (s *Sandbox) Refunds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refunds
}

// ChargeOf returns the request that made the charge id.
func (s *Sandbox) ChargeOf(id string) (ChargeRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.charges[id]
	if !ok {
		return ChargeRequest{}, false
	}
	return c.req, true
}

// Refunded reports whether the charge id was refunded.
func (s *Sandbox) Refunded(chargeID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.charges[chargeID]
	return ok && c.refunded
}

// Transfer pays out to a sandbox account, once per idempotency key (the
// same key with other parameters is refused, as Stripe does).
func (s *Sandbox) Transfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	if err := ctx.Err(); err != nil {
		return Transfer{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.transferBy[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		if prev.req != req {
			return Transfer{}, fault.New(fault.Invalid,
				"Keys for idempotent requests can only be used with the same parameters they were first used with.")
		}
		return prev.transfer, nil
	}
	switch {
	case req.Amount <= 0:
		return Transfer{}, fault.New(fault.Invalid, "Amount must be positive")
	case !strings.HasPrefix(req.Destination, "sandbox_acct_"):
		return Transfer{}, fault.New(fault.Invalid, "No such destination: "+req.Destination)
	}
	t := Transfer{ID: "sandbox_tr_" + rand.Text()}
	s.transfers = append(s.transfers, req)
	if req.IdempotencyKey != "" {
		s.transferBy[req.IdempotencyKey] = sandboxTransfer{req: req, transfer: t}
	}
	return t, nil
}

// Transfers returns the payouts the sandbox made, in order.
func (s *Sandbox) Transfers() []TransferRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.transfers)
}
