package payments_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/fault"
)

// openSandbox opens the journal at path, closed with the test.
func openSandbox(t *testing.T, path string, sync bool) *payments.Sandbox {
	t.Helper()
	s, err := payments.NewSandboxAt(path, sync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A journaled sandbox opened again knows what the first one did: the same
// keys return the first charge, decline, refund, account and transfer,
// and nothing is made twice; a charge made before the restart refunds. A
// torn last line (the process killed in the write) is a call that never
// returned: dropped, and the next record starts a line of its own. The
// same with each line fsync'd and without.
func TestSandboxJournal(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%t", sync), func(t *testing.T) { testSandboxJournal(t, sync) })
	}
}

func testSandboxJournal(t *testing.T, sync bool) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sandbox.jsonl")
	visa := payments.ChargeRequest{Amount: 2050, Currency: "usd", Token: "tok_visa", IdempotencyKey: "charge-1", OrderID: "o-1"}
	declined := payments.ChargeRequest{Amount: 900, Currency: "usd", Token: "tok_chargeDeclined", IdempotencyKey: "charge-2", OrderID: "o-2"}
	other := payments.ChargeRequest{Amount: 1000, Currency: "usd", Token: "pm_card_visa", IdempotencyKey: "charge-3", OrderID: "o-3"}
	account := payments.AccountRequest{UserID: "sam", Email: "sam@example.com", IdempotencyKey: "payout-account-sam"}

	s1 := openSandbox(t, path, sync)
	c1, err := s1.Charge(ctx, visa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Charge(ctx, declined); err == nil {
		t.Fatal("the declined token charged")
	}
	c3, err := s1.Charge(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Refund(ctx, payments.RefundRequest{ChargeID: c3.ID, IdempotencyKey: "refund-3"}); err != nil {
		t.Fatal(err)
	}
	a, err := s1.CreateAccount(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	payout := payments.TransferRequest{Amount: 2050, Currency: "usd", Destination: a.ID, ChargeID: c1.ID,
		TransferGroup: "o-1", IdempotencyKey: payments.PayoutID("o-1")}
	tr, err := s1.Transfer(ctx, payout)
	if err != nil {
		t.Fatal(err)
	}
	// Killed in the middle of the next record.
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	late := payout
	late.IdempotencyKey, late.TransferGroup = payments.PayoutID("o-late"), "o-late"
	if _, err := s1.Transfer(ctx, late); err == nil || len(s1.Transfers()) != 1 {
		t.Errorf("a transfer after Close = %v, %d transfers; want refused, 1", err, len(s1.Transfers()))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"op":"transfer","key":"payout-o-3","id":"sandbox_tr_X","transfer":{"Amo`)
	f.Close()

	s2 := openSandbox(t, path, sync)
	if got, err := s2.Charge(ctx, visa); err != nil || got != c1 {
		t.Errorf("replayed charge = %v, %v; want %v", got, err, c1)
	}
	var fe *fault.Error
	if _, err := s2.Charge(ctx, declined); !errors.As(err, &fe) || fe.Kind != fault.Declined {
		t.Errorf("replayed decline = %v, want the decline", err)
	}
	if err := s2.Refund(ctx, payments.RefundRequest{ChargeID: c3.ID, IdempotencyKey: "refund-3"}); err != nil {
		t.Errorf("replayed refund: %v", err)
	}
	if err := s2.Refund(ctx, payments.RefundRequest{ChargeID: c3.ID, IdempotencyKey: "refund-3-again"}); !errors.Is(err, payments.ErrAlreadyRefunded) {
		t.Errorf("refund under another key = %v, want ErrAlreadyRefunded", err)
	}
	if got, err := s2.CreateAccount(ctx, account); err != nil || got.ID != a.ID {
		t.Errorf("replayed account = %+v, %v; want %s", got, err, a.ID)
	}
	if got, err := s2.Transfer(ctx, payout); err != nil || got != tr {
		t.Errorf("replayed transfer = %v, %v; want %v", got, err, tr)
	}
	changed := payout
	changed.Amount++
	if _, err := s2.Transfer(ctx, changed); !errors.As(err, &fe) || fe.Kind != fault.Invalid {
		t.Errorf("the key with another amount = %v, want refused", err)
	}
	// The charge of before the restart refunds.
	if err := s2.Refund(ctx, payments.RefundRequest{ChargeID: c1.ID, IdempotencyKey: "refund-1"}); err != nil {
		t.Errorf("refund of a charge made before the restart: %v", err)
	}
	second := payments.TransferRequest{Amount: 1000, Currency: "usd", Destination: a.ID, ChargeID: c3.ID,
		TransferGroup: "o-3", IdempotencyKey: payments.PayoutID("o-3")}
	if _, err := s2.Transfer(ctx, second); err != nil {
		t.Fatal(err)
	}
	if s2.Charges() != 2 || s2.Refunds() != 2 || s2.Accounts() != 1 || len(s2.Transfers()) != 2 || !s2.Refunded(c1.ID) {
		t.Errorf("after the restart: %d charges, %d refunds, %d accounts, %d transfers; want 2, 2, 1, 2",
			s2.Charges(), s2.Refunds(), s2.Accounts(), len(s2.Transfers()))
	}

	got, err := payments.ReadSandboxJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != payout || got[1] != second {
		t.Errorf("journal's transfers = %+v, want %+v and %+v", got, payout, second)
	}
	s2.Close()
	if s3 := openSandbox(t, path, sync); s3.Charges() != 2 || s3.Refunds() != 2 || len(s3.Transfers()) != 2 {
		t.Errorf("third start: %d charges, %d refunds, %d transfers; want 2, 2, 2", s3.Charges(), s3.Refunds(), len(s3.Transfers()))
	}
}

// A journal whose whole lines do not decode is not the sandbox's: it is
// refused rather than half read.
func TestSandboxJournalRefusesGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.jsonl")
	if err := os.WriteFile(path, []byte("not json\n{\"op\":\"account\",\"id\":\"sandbox_acct_1\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := payments.NewSandboxAt(path, false); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("open = %v, want line 1 named", err)
	}
	if _, err := payments.ReadSandboxJournal(path); err == nil {
		t.Error("ReadSandboxJournal read garbage")
	}
}
