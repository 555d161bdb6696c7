package payments

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
//
// NewSandbox keeps all of it in memory; NewSandboxAt keeps a journal too
// (see there), so a restarted `up` still knows its charges, refunds,
// accounts and transfers and their idempotency keys, as Stripe would.
type Sandbox struct {
	mu       sync.Mutex
	journal  *os.File                  // nil: in memory only
	closed   bool                      // the journal was closed: calls fail
	sync     bool                      // fsync each record
	size     int64                     // the journal's length: what was written whole
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

// NewSandbox returns an empty sandbox provider, in memory.
func NewSandbox() Provider {
	return newSandbox()
}

func newSandbox() *Sandbox {
	return &Sandbox{
		charges:    map[string]*sandboxCharge{},
		byKey:      map[string]sandboxResult{},
		refundBy:   map[string]string{},
		accountBy:  map[string]string{},
		transferBy: map[string]sandboxTransfer{},
	}
}

// NewSandboxAt returns a sandbox provider that keeps a journal at path
// (owner-only, created if missing) and starts from what it holds. Each
// charge, refund, account and transfer, with its idempotency key and
// request, is one JSON line written before the call returns: a process
// killed at any point and started again (`up` on its data dir) replays
// its requests under the same keys and gets the first results back,
// rather than a second transfer or a refund of a charge it no longer
// knows. A written line survives the process (the kernel holds it); sync
// also fsyncs each one before the call returns, so it survives a power
// loss too, at a disk flush per call (milliseconds, one at a time): `up`
// syncs with TICKETING_FSYNC=always, as its SQLite files then do. A last
// line cut short by a kill is a call that never returned: it is dropped.
// Close closes the file; calls that would change anything fail after it.
func NewSandboxAt(path string, sync bool) (*Sandbox, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sandbox journal: %w", err)
	}
	s := newSandbox()
	recs, whole, err := readSandboxJournal(f)
	if fi, serr := f.Stat(); err == nil && serr == nil && fi.Mode().Perm() != 0o600 {
		// Owner-only, as the data dir's other files; an older file may be
		// looser.
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = s.load(recs)
	}
	if err == nil {
		// Drop a torn last line, so the next record starts a line.
		err = f.Truncate(whole)
	}
	if err == nil {
		_, err = f.Seek(whole, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox journal %s: %w", path, err)
	}
	s.journal, s.size, s.sync = f, whole, sync
	return s, nil
}

// Close closes the journal, if there is one.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil {
		return nil
	}
	err := s.journal.Close()
	s.journal, s.closed = nil, true
	return err
}

// sandboxRecord is one line of the journal: Op says which of the other
// fields it has.
type sandboxRecord struct {
	Op string `json:"op"` // "charge", "refund", "account" or "transfer"
	// Key is the call's idempotency key.
	Key string `json:"key,omitempty"`
	// ID is what the call made: the charge (empty for a charge refused
	// under a key, which replays the refusal), the refunded charge, the
	// account, the transfer.
	ID       string           `json:"id,omitempty"`
	Charge   *ChargeRequest   `json:"charge,omitempty"`
	Transfer *TransferRequest `json:"transfer,omitempty"`
}

// record appends rec to the journal (and syncs it), with s.mu held; the
// caller changes its maps only once it returns nil. A failed write is cut
// off again, so the next record starts a line; its error is not a fault,
// so the call's outcome is unknown and the caller replays it.
func (s *Sandbox) record(rec sandboxRecord) error {
	if s.closed {
		// A call after Close (one still in flight at shutdown) would
		// move money the journal never hears of.
		return errors.New("sandbox journal: closed")
	}
	if s.journal == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("sandbox journal: %w", err)
	}
	b = append(b, '\n')
	_, err = s.journal.Write(b)
	if err == nil && s.sync {
		err = s.journal.Sync()
	}
	if err != nil {
		if terr := s.journal.Truncate(s.size); terr == nil {
			s.journal.Seek(s.size, io.SeekStart)
		}
		return fmt.Errorf("sandbox journal: %w", err)
	}
	s.size += int64(len(b))
	return nil
}

// load replays the journal's records into the maps, as the calls made
// them.
func (s *Sandbox) load(recs []sandboxRecord) error {
	for i, rec := range recs {
		switch {
		case rec.Op == "charge" && rec.Charge != nil:
			req := *rec.Charge
			var err error
			if rec.ID != "" {
				s.charges[rec.ID] = &sandboxCharge{req: req}
			} else if _, err = sandboxDecide(req); err == nil {
				return fmt.Errorf("record %d: a charge of %q without its id", i+1, req.Token)
			}
			if req.IdempotencyKey != "" {
				s.byKey[req.IdempotencyKey] = sandboxResult{req: req, charge: Charge{ID: rec.ID}, err: err}
			}
		case rec.Op == "refund":
			c, ok := s.charges[rec.ID]
			if !ok {
				return fmt.Errorf("record %d: a refund of unknown charge %s", i+1, rec.ID)
			}
			c.refunded = true
			s.refunds++
			if rec.Key != "" {
				s.refundBy[rec.Key] = rec.ID
			}
		case rec.Op == "account":
			s.accounts++
			if rec.Key != "" {
				s.accountBy[rec.Key] = rec.ID
			}
		case rec.Op == "transfer" && rec.Transfer != nil:
			req := *rec.Transfer
			s.transfers = append(s.transfers, req)
			if req.IdempotencyKey != "" {
				s.transferBy[req.IdempotencyKey] = sandboxTransfer{req: req, transfer: Transfer{ID: rec.ID}}
			}
		default:
			return fmt.Errorf("record %d: unknown record %q", i+1, rec.Op)
		}
	}
	return nil
}

// readSandboxJournal decodes the whole lines of a journal; whole is the
// length they take. A last line without its newline is a write the process
// did not finish (killed in it): it is left out. Any other line that does
// not decode is an error.
func readSandboxJournal(r io.Reader) (recs []sandboxRecord, whole int64, err error) {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return recs, whole, nil // line, if any, is torn
		}
		if err != nil {
			return nil, 0, err
		}
		var rec sandboxRecord
		if err := json.Unmarshal(bytes.TrimSpace(line), &rec); err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", n, err)
		}
		recs = append(recs, rec)
		whole += int64(len(line))
	}
}

// ReadSandboxJournal returns the transfers recorded in the journal at
// path, in the order made, without changing it: it may be read while a
// process appends to it (a line being written is left out).
func ReadSandboxJournal(path string) ([]TransferRequest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox journal: %w", err)
	}
	defer f.Close()
	recs, _, err := readSandboxJournal(f)
	if err != nil {
		return nil, fmt.Errorf("sandbox journal %s: %w", path, err)
	}
	var out []TransferRequest
	for _, rec := range recs {
		if rec.Op == "transfer" && rec.Transfer != nil {
			out = append(out, *rec.Transfer)
		}
	}
	return out, nil
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
	var c Charge
	ok, err := sandboxDecide(req)
	if ok {
		c = Charge{ID: "sandbox_ch_" + rand.Text()}
	}
	if ok || req.IdempotencyKey != "" {
		if jerr := s.record(sandboxRecord{Op: "charge", Key: req.IdempotencyKey, ID: c.ID, Charge: &req}); jerr != nil {
			return Charge{}, jerr
		}
	}
	if ok {
		s.charges[c.ID] = &sandboxCharge{req: req}
	}
	if req.IdempotencyKey != "" {
		s.byKey[req.IdempotencyKey] = sandboxResult{req: req, charge: c, err: err}
	}
	return c, err
}

// sandboxDecide is the sandbox's answer to a charge: ok, or why not. It
// depends on the request alone, so the journal need not keep the refusals.
func sandboxDecide(req ChargeRequest) (ok bool, err error) {
	switch {
	case req.Amount <= 0:
		return false, &fault.Error{Kind: fault.Invalid, Message: "Amount must be positive"}
	case req.Token == "tok_visa" || req.Token == "pm_card_visa":
		return true, nil
	case req.Token == "tok_chargeDeclined" || req.Token == "pm_card_chargeDeclined":
		return false, errSandboxDeclined
	default:
		return false, &fault.Error{Kind: fault.Invalid, Field: "token", Message: "Invalid card token"}
	}
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
	if err := s.record(sandboxRecord{Op: "refund", Key: req.IdempotencyKey, ID: req.ChargeID}); err != nil {
		return err
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
	if err := s.record(sandboxRecord{Op: "transfer", Key: req.IdempotencyKey, ID: t.ID, Transfer: &req}); err != nil {
		return Transfer{}, err
	}
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
