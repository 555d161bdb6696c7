package payments

import (
	"fmt"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// The ledger's accounts (DESIGN.md section 9.4). The payables are one
// account per user, named by a prefix and the user id.
const (
	// AccountCash is the buyers' money the platform holds at the
	// processor: debited by a charge, credited by a refund and a payout.
	AccountCash = "cash"
	// AccountPlatformFees is the service fees the platform earned.
	AccountPlatformFees = "platform_fees"
	// AccountProcessorFees is what the processor keeps of a charge; no
	// entry uses it until the processor's fee is read back (a later
	// slice), so today it stays at zero.
	AccountProcessorFees = "processor_fees"
	// AccountRefundLosses is what the platform gave back to buyers of
	// orders whose proceeds it had already paid out (an event cancelled
	// after its payouts): the platform bears it, and may recover it from
	// the payee outside the ledger. A debit, never owed by a payable, so no
	// payable is ever paid out more than was collected for it.
	AccountRefundLosses = "refund_losses"
	// PrefixSellerPayable and PrefixOrganizerPayable name what the
	// platform owes a seller, or an event's organizer, for their sales.
	PrefixSellerPayable    = "seller_payable:"
	PrefixOrganizerPayable = "organizer_payable:"
)

// Kinds of ledger transaction.
const (
	KindCharge = "charge"
	KindRefund = "refund"
	// KindPayout is a transfer to a payee (payout.go): it debits their
	// payable and credits cash. `ticketing check` holds payouts to the
	// rule that none exceeds what was collected.
	KindPayout = "payout"
)

// PayableAccount is the account of what the platform owes for an order's
// price: its organizer's for an event's ticket bought from the organizer,
// its seller's otherwise.
func PayableAccount(o Order) string {
	if o.Payee == events.PayeeOrganizer {
		return PrefixOrganizerPayable + o.SellerID
	}
	return PrefixSellerPayable + o.SellerID
}

// Entry is one line of a ledger transaction: a debit is positive, a
// credit negative, in cents.
type Entry struct {
	Account string
	Amount  money.Cents
}

// Txn is one balanced ledger transaction.
type Txn struct {
	// ID says what the transaction records, and makes it happen once:
	// "charge-<payment id>", "refund-<payment id>".
	ID        string
	Kind      string
	OrderID   string
	PaymentID string
	CreatedAt time.Time
	Entries   []Entry
}

// Sum is the sum of the entries: zero for a balanced transaction.
func (t Txn) Sum() money.Cents {
	var s money.Cents
	for _, e := range t.Entries {
		s += e.Amount
	}
	return s
}

// check refuses an unbalanced transaction, or one with no entries.
func (t Txn) check() error {
	if len(t.Entries) == 0 {
		return fmt.Errorf("ledger transaction %s has no entries", t.ID)
	}
	if s := t.Sum(); s != 0 {
		return fmt.Errorf("ledger transaction %s is off by %d cents", t.ID, s)
	}
	return nil
}

// ChargeTxn is the ledger transaction of the successful charge p of order
// o: cash is debited what was charged, the payee's payable credited the
// price and the platform's fees the rest (the service fee). The fee is
// the charge less the price, so the transaction balances by construction
// and records what was charged, not what a replica says it should be.
func ChargeTxn(p Payment, o Order, now time.Time) Txn {
	return Txn{
		ID: ChargeTxnID(p.ID), Kind: KindCharge, OrderID: p.OrderID, PaymentID: p.ID, CreatedAt: now,
		Entries: []Entry{
			{AccountCash, p.Amount},
			{PayableAccount(o), -o.Price},
			{AccountPlatformFees, -(p.Amount - o.Price)},
		},
	}
}

// RefundTxn is the ledger transaction of giving back the whole payment
// whose charge was charge: every entry of the charge reversed, the fee
// included (DESIGN.md: refunded in full). When the order's proceeds were
// paid out already (paidOut), the payee's part is the platform's loss
// (AccountRefundLosses) instead of a debit on a payable that was emptied.
func RefundTxn(charge Txn, paidOut bool, now time.Time) Txn {
	t := Txn{ID: RefundID(charge.PaymentID), Kind: KindRefund, OrderID: charge.OrderID,
		PaymentID: charge.PaymentID, CreatedAt: now}
	for _, e := range charge.Entries {
		acct := e.Account
		if paidOut && isPayable(acct) {
			acct = AccountRefundLosses
		}
		t.Entries = append(t.Entries, Entry{acct, -e.Amount})
	}
	return t
}

// ChargeTxnID is the id of the ledger transaction of a payment's charge.
func ChargeTxnID(paymentID string) string { return "charge-" + paymentID }

// RefundID is the id of the ledger transaction of a payment's refund, and
// the idempotency key of the refund at the provider: one per payment.
func RefundID(paymentID string) string { return "refund-" + paymentID }

// PayoutID is the id of the ledger transaction of an order's payout, and
// the idempotency key of its transfer: one per order.
func PayoutID(orderID string) string { return "payout-" + orderID }

// PayoutTxn is the ledger transaction of paying out amount of an order's
// proceeds from the payable account: the payable is debited (the
// platform owes that much less) and cash credited. When the order was
// refunded while the transfer was in flight (refunded), the money left
// twice: the platform's loss is debited instead of the emptied payable.
func PayoutTxn(orderID, paymentID, account string, amount money.Cents, refunded bool, now time.Time) Txn {
	debit := account
	if refunded {
		debit = AccountRefundLosses
	}
	return Txn{
		ID: PayoutID(orderID), Kind: KindPayout, OrderID: orderID, PaymentID: paymentID, CreatedAt: now,
		Entries: []Entry{{debit, amount}, {AccountCash, -amount}},
	}
}

// isPayable says whether acct is a seller's or an organizer's payable.
func isPayable(acct string) bool {
	return strings.HasPrefix(acct, PrefixSellerPayable) || strings.HasPrefix(acct, PrefixOrganizerPayable)
}
