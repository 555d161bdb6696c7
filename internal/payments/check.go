package payments

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ticketing/ticketing/internal/platform/money"
)

// Report is what CheckBooks found: the books' figures and, when they do
// not hold, each problem in words.
type Report struct {
	Transactions, Entries     int
	Charges, Refunds, Payouts int
	// ChargedPayments are the payments that took money (succeeded or
	// refunded); PaidOrders the orders complete in payments' replica.
	ChargedPayments, PaidOrders int
	// Balances, debit positive: Cash is the buyers' money held,
	// PlatformFees the fees earned (negative: a credit), Payables what
	// is owed to sellers and organizers together (negative).
	Cash, PlatformFees, Payables money.Cents
	// RefundLosses is what the platform gave back of proceeds it had
	// paid out already (a debit).
	RefundLosses money.Cents
	// Sum is every entry's amount added up: zero when the books balance.
	Sum      money.Cents
	Problems []string
}

// OK says the books hold.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Summary is the report in a few lines.
func (r Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ledger: %d transactions (%d charges, %d refunds, %d payouts), %d entries, sum %s\n",
		r.Transactions, r.Charges, r.Refunds, r.Payouts, r.Entries, r.Sum)
	fmt.Fprintf(&b, "payments: %d charged, %d paid orders\n", r.ChargedPayments, r.PaidOrders)
	fmt.Fprintf(&b, "balances: cash %s, platform fees %s, owed to sellers and organizers %s, refund losses %s\n",
		r.Cash, -r.PlatformFees, -r.Payables, r.RefundLosses)
	return b.String()
}

// maxListed bounds the problems of one rule the report names; the rest are
// counted.
const maxListed = 20

// Querier is a read-only transaction over payments' tables (a *sql.Tx
// from sqldb.DB.ReadTx), so every rule sees one moment.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// CheckBooks verifies payments' books (DESIGN.md section 9.4; `ticketing
// check`): every ledger transaction balances, every charged payment has
// exactly one charge transaction for what was charged (and a refunded
// one exactly one refund), every paid order exactly one charge, and no
// payable has paid out more than it was credited. It only reads. An error
// is a failure to read; what is wrong with the books is in the report.
func CheckBooks(ctx context.Context, q Querier) (Report, error) {
	var r Report
	c := checker{ctx: ctx, q: q, r: &r}
	c.scalar(`SELECT count(*) FROM ledger_transactions`, &r.Transactions)
	c.scalar(`SELECT count(*), COALESCE(sum(amount), 0) FROM ledger_entries`, &r.Entries, &r.Sum)
	c.scalar(`SELECT count(*) FROM payments WHERE status IN ('succeeded', 'refunded')`, &r.ChargedPayments)
	c.scalar(`SELECT count(*) FROM orders WHERE status = 'complete'`, &r.PaidOrders)
	c.each(`SELECT kind, count(*) FROM ledger_transactions GROUP BY kind`, func(rows *sql.Rows) error {
		var (
			kind string
			n    int
		)
		if err := rows.Scan(&kind, &n); err != nil {
			return err
		}
		switch kind {
		case KindCharge:
			r.Charges = n
		case KindRefund:
			r.Refunds = n
		case KindPayout:
			r.Payouts = n
		default:
			r.Problems = append(r.Problems, fmt.Sprintf("%d ledger transactions of unknown kind %q", n, kind))
		}
		return nil
	})
	if r.Sum != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("the ledger does not balance: its entries sum to %d cents, not 0", r.Sum))
	}
	// Balances by account; a payable whose balance is a debit has paid
	// out more than was collected for it.
	c.each(`SELECT account, sum(amount) FROM ledger_entries GROUP BY account`, func(rows *sql.Rows) error {
		var (
			acct string
			sum  money.Cents
		)
		if err := rows.Scan(&acct, &sum); err != nil {
			return err
		}
		switch {
		case acct == AccountCash:
			r.Cash = sum
		case acct == AccountPlatformFees:
			r.PlatformFees = sum
		case acct == AccountProcessorFees:
		case acct == AccountRefundLosses:
			r.RefundLosses = sum
		case strings.HasPrefix(acct, PrefixSellerPayable), strings.HasPrefix(acct, PrefixOrganizerPayable):
			r.Payables += sum
			if sum > 0 {
				c.problem("payout", "account %s paid out %d cents more than was collected for it", acct, sum)
			}
		default:
			c.problem("account", "unknown ledger account %q (balance %d cents)", acct, sum)
		}
		return nil
	})
	// Cash goes below zero only by what the platform gave back of
	// proceeds it had paid out already (refund losses, its own money).
	if r.Cash+r.RefundLosses < 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("cash is %d cents (refund losses %d): more went out than was collected",
			r.Cash, r.RefundLosses))
	}
	c.list("unbalanced", `SELECT t.id, COALESCE(sum(e.amount), 0), count(e.line) FROM ledger_transactions t
		LEFT JOIN ledger_entries e ON e.transaction_id = t.id
		GROUP BY t.id HAVING COALESCE(sum(e.amount), 0) <> 0 OR count(e.line) = 0 ORDER BY t.id`,
		func(rows *sql.Rows) (string, error) {
			var (
				id      string
				sum     int64
				entries int
			)
			if err := rows.Scan(&id, &sum, &entries); err != nil {
				return "", err
			}
			if entries == 0 {
				return fmt.Sprintf("ledger transaction %s has no entries", id), nil
			}
			return fmt.Sprintf("ledger transaction %s does not balance: its entries sum to %d cents", id, sum), nil
		})
	c.list("orphan", `SELECT DISTINCT e.transaction_id FROM ledger_entries e
		WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = e.transaction_id) ORDER BY 1`,
		scanf("ledger entries belong to no transaction: %s"))
	// Each rule is one set-based query (joins and GROUP BY, no subquery
	// per row): PostgreSQL runs them as hash joins, SQLite through the
	// indexes.
	c.list("charge", `SELECT p.id, p.order_id, p.status, count(t.id) FROM payments p
		LEFT JOIN ledger_transactions t ON t.payment_id = p.id AND t.kind = 'charge'
		WHERE p.status IN ('succeeded', 'refunded')
		GROUP BY p.id, p.order_id, p.status HAVING count(t.id) <> 1 ORDER BY p.id`,
		scanf("payment %s of order %s (%s) has %s charge entries, want exactly 1"))
	// The account is tested in the sum, not the join: SQLite would
	// otherwise walk the account's index (every cash entry) per charge.
	c.list("amount", `SELECT p.id, p.amount, sum(CASE WHEN e.account = 'cash' THEN e.amount ELSE 0 END) FROM payments p
		JOIN ledger_transactions t ON t.payment_id = p.id AND t.kind = 'charge'
		JOIN ledger_entries e ON e.transaction_id = t.id
		GROUP BY p.id, p.amount HAVING sum(CASE WHEN e.account = 'cash' THEN e.amount ELSE 0 END) <> p.amount ORDER BY p.id`,
		scanf("payment %s charged %s cents but its charge entry takes %s into cash"))
	c.list("refund", `SELECT p.id, p.status, count(t.id) FROM payments p
		LEFT JOIN ledger_transactions t ON t.payment_id = p.id AND t.kind = 'refund'
		GROUP BY p.id, p.status
		HAVING (p.status = 'refunded' AND count(t.id) <> 1) OR (p.status <> 'refunded' AND count(t.id) <> 0) ORDER BY p.id`,
		scanf("payment %s (%s) has %s refund entries"))
	c.list("paid", `SELECT o.id, count(t.id) FROM orders o
		LEFT JOIN ledger_transactions t ON t.order_id = o.id AND t.kind = 'charge'
		WHERE o.status = 'complete' GROUP BY o.id HAVING count(t.id) <> 1 ORDER BY o.id`,
		scanf("paid order %s has %s charge entries, want exactly 1"))
	c.list("unknown", `SELECT t.id FROM ledger_transactions t
		WHERE t.kind IN ('charge', 'refund') AND NOT EXISTS (
			SELECT 1 FROM payments p WHERE p.id = t.payment_id AND p.order_id = t.order_id
			AND p.status IN ('succeeded', 'refunded'))
		ORDER BY t.id`,
		scanf("ledger transaction %s names no charged payment of its order"))
	// Payouts: one ledger payout per paid payout row and none without
	// one, and none of an order larger than the share its charge owed.
	c.list("payout", `SELECT po.order_id, po.status, count(t.id) FROM payouts po
		LEFT JOIN ledger_transactions t ON t.order_id = po.order_id AND t.kind = 'payout'
		GROUP BY po.order_id, po.status
		HAVING (po.status = 'paid' AND count(t.id) <> 1) OR (po.status <> 'paid' AND count(t.id) <> 0)
		ORDER BY po.order_id`,
		scanf("payout of order %s (%s) has %s payout entries"))
	c.list("payout", `SELECT t.id FROM ledger_transactions t
		WHERE t.kind = 'payout' AND NOT EXISTS (SELECT 1 FROM payouts po WHERE po.order_id = t.order_id AND po.status = 'paid')
		ORDER BY t.id`,
		scanf("ledger payout %s has no paid payout"))
	paid := `sum(CASE WHEN t.kind = 'payout' AND e.amount > 0 THEN e.amount ELSE 0 END)`
	owed := `-sum(CASE WHEN t.kind = 'charge' AND e.amount < 0 AND e.account <> 'platform_fees' THEN e.amount ELSE 0 END)`
	c.list("payout", `SELECT t.order_id, `+paid+`, `+owed+`
		FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
		WHERE t.kind IN ('charge', 'payout') AND t.order_id IN (SELECT order_id FROM payouts)
		GROUP BY t.order_id HAVING `+paid+` > `+owed+` ORDER BY t.order_id`,
		scanf("order %s paid out %s cents, more than the %s its charge owed"))
	return r, c.err
}

// checker runs the rules, keeping the first read error.
type checker struct {
	ctx context.Context
	q   Querier
	r   *Report
	err error
}

func (c *checker) scalar(q string, dest ...any) {
	if c.err != nil {
		return
	}
	if err := c.q.QueryRowContext(c.ctx, q).Scan(dest...); err != nil {
		c.err = fmt.Errorf("check: %w", err)
	}
}

func (c *checker) each(q string, fn func(*sql.Rows) error) {
	if c.err != nil {
		return
	}
	rows, err := c.q.QueryContext(c.ctx, q)
	if err != nil {
		c.err = fmt.Errorf("check: %w", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			c.err = fmt.Errorf("check: %w", err)
			return
		}
	}
	if err := rows.Err(); err != nil {
		c.err = fmt.Errorf("check: %w", err)
	}
}

// list adds a problem for each row of q (at most maxListed, then a count
// of the rest).
func (c *checker) list(rule, q string, describe func(*sql.Rows) (string, error)) {
	n := 0
	c.each(q, func(rows *sql.Rows) error {
		n++
		if n > maxListed {
			return nil
		}
		s, err := describe(rows)
		if err == nil {
			c.r.Problems = append(c.r.Problems, s)
		}
		return err
	})
	if n > maxListed {
		c.r.Problems = append(c.r.Problems, fmt.Sprintf("... and %d more like it (%s)", n-maxListed, rule))
	}
}

// problem adds a problem found while reading the balances.
func (c *checker) problem(_ string, format string, args ...any) {
	c.r.Problems = append(c.r.Problems, fmt.Sprintf(format, args...))
}

// scanf describes a row of one string column with format.
func scanf(format string) func(*sql.Rows) (string, error) {
	return func(rows *sql.Rows) (string, error) {
		cols, err := rows.Columns()
		if err != nil {
			return "", err
		}
		// Every column read as text (database/sql formats numbers), so a
		// rule's format uses %s throughout.
		vals := make([]string, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return "", err
		}
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		return fmt.Sprintf(format, args...), nil
	}
}
