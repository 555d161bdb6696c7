package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// The SQL of transfers and of tickets' history (transfer.go, history.go).

const transferColumns = `tr.id, tr.ticket_id, tr.event_id, tr.from_user_id, tr.from_email, tr.to_email, tr.status,
	tr.created_at, tr.cancelled_by, COALESCE(t.title, '')`

// transferFrom joins each transfer to its ticket, for the title.
const transferFrom = ` FROM transfers tr LEFT JOIN tickets t ON t.id = tr.ticket_id`

func scanTransfer(row scanner) (Transfer, error) {
	var (
		tr      Transfer
		created int64
		by      sql.NullString
	)
	if err := row.Scan(&tr.ID, &tr.TicketID, &tr.EventID, &tr.FromUserID, &tr.FromEmail, &tr.ToEmail, &tr.Status,
		&created, &by, &tr.Title); err != nil {
		return Transfer{}, sqldb.Err(err)
	}
	tr.CreatedAt = time.UnixMilli(created).UTC()
	tr.CancelledBy = by.String
	return tr, nil
}

// InsertTransfer adds a pending transfer. A second pending transfer of one
// ticket is sqldb.ErrConflict (transfers_pending_ticket).
func (s *Store) InsertTransfer(ctx context.Context, tx *sqldb.Tx, tr Transfer) error {
	const q = `INSERT INTO transfers (id, ticket_id, event_id, from_user_id, from_email, to_email, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	_, err := tx.ExecContext(ctx, q, tr.ID, tr.TicketID, tr.EventID, tr.FromUserID, tr.FromEmail, tr.ToEmail,
		string(tr.Status), tr.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("insert transfer: %w", sqldb.Err(err))
	}
	return nil
}

// HasPendingTransfer reports whether ticketID has a pending transfer.
func (s *Store) HasPendingTransfer(ctx context.Context, tx *sqldb.Tx, ticketID string) (bool, error) {
	const q = `SELECT 1 FROM transfers WHERE ticket_id = $1 AND status = 'pending'`
	var one int
	switch err := sqldb.Err(tx.QueryRowContext(ctx, q, ticketID).Scan(&one)); {
	case err == nil:
		return true, nil
	case errors.Is(err, sqldb.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("pending transfer of %s: %w", ticketID, err)
	}
}

// GetTransfer returns the transfer, or an error matching sqldb.ErrNotFound.
func (s *Store) GetTransfer(ctx context.Context, id string) (Transfer, error) {
	q := `SELECT ` + transferColumns + transferFrom + ` WHERE tr.id = $1`
	tr, err := scanTransfer(s.db.Read().QueryRowContext(ctx, q, id))
	if err != nil {
		return Transfer{}, fmt.Errorf("get transfer: %w", err)
	}
	return tr, nil
}

// TransferForUpdate is GetTransfer inside tx, and on PostgreSQL locks the
// transfer's row until tx ends, so that an accept and a cancellation of
// one transfer take turns.
func (s *Store) TransferForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (Transfer, error) {
	q := `SELECT ` + transferColumns + transferFrom + ` WHERE tr.id = $1`
	if tx.Engine() == sqldb.Postgres {
		q += ` FOR UPDATE OF tr`
	}
	tr, err := scanTransfer(tx.QueryRowContext(ctx, q, id))
	if err != nil {
		return Transfer{}, fmt.Errorf("get transfer: %w", err)
	}
	return tr, nil
}

// SettleTransfer ends a pending transfer: accepted by toUserID, or
// cancelled by cancelledBy.
func (s *Store) SettleTransfer(ctx context.Context, tx *sqldb.Tx, id string, status TransferStatus, toUserID, cancelledBy string, at time.Time) error {
	const q = `UPDATE transfers SET status = $2, to_user_id = $3, cancelled_by = $4, settled_at = $5
		WHERE id = $1 AND status = 'pending'`
	_, err := tx.ExecContext(ctx, q, id, string(status), nullable(toUserID), nullable(cancelledBy), at.UnixMilli())
	if err != nil {
		return fmt.Errorf("settle transfer %s: %w", id, sqldb.Err(err))
	}
	return nil
}

// CancelEventTransfers cancels every pending transfer of the event's
// tickets, by cancelledBy, and reports how many.
func (s *Store) CancelEventTransfers(ctx context.Context, tx *sqldb.Tx, eventID, cancelledBy string, at time.Time) (int64, error) {
	const q = `UPDATE transfers SET status = 'cancelled', cancelled_by = $2, settled_at = $3
		WHERE event_id = $1 AND status = 'pending'`
	res, err := tx.ExecContext(ctx, q, eventID, cancelledBy, at.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("cancel transfers of %s: %w", eventID, sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("cancel transfers of %s: %w", eventID, err)
	}
	return n, nil
}

// PendingTransfersTo returns up to limit pending transfers to the
// (lower-cased) email, newest first.
func (s *Store) PendingTransfersTo(ctx context.Context, email string, limit int) ([]Transfer, error) {
	q := `SELECT ` + transferColumns + transferFrom + ` WHERE tr.to_email = $1 AND tr.status = 'pending'
		ORDER BY tr.created_at DESC, tr.id DESC LIMIT $2`
	return s.transfers(ctx, q, email, limit)
}

// PendingTransfersFrom returns up to limit pending transfers userID made,
// newest first.
func (s *Store) PendingTransfersFrom(ctx context.Context, userID string, limit int) ([]Transfer, error) {
	q := `SELECT ` + transferColumns + transferFrom + ` WHERE tr.from_user_id = $1 AND tr.status = 'pending'
		ORDER BY tr.created_at DESC, tr.id DESC LIMIT $2`
	return s.transfers(ctx, q, userID, limit)
}

func (s *Store) transfers(ctx context.Context, q string, args ...any) ([]Transfer, error) {
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list transfers: %w", sqldb.Err(err))
	}
	defer rows.Close()
	out := []Transfer{}
	for rows.Next() {
		tr, err := scanTransfer(rows)
		if err != nil {
			return nil, fmt.Errorf("list transfers: %w", err)
		}
		out = append(out, tr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list transfers: %w", sqldb.Err(err))
	}
	return out, nil
}

// EventTransfers reads, inside tx, whether the event's replica allows
// transfers and its status; an event with no replica is
// sqldb.ErrNotFound.
func (s *Store) EventTransfers(ctx context.Context, tx *sqldb.Tx, eventID string) (bool, string, error) {
	var (
		on     bool
		status string
	)
	err := tx.QueryRowContext(ctx, `SELECT transfers, status FROM door_events WHERE id = $1`, eventID).Scan(&on, &status)
	if err != nil {
		return false, "", fmt.Errorf("transfers of %s: %w", eventID, sqldb.Err(err))
	}
	return on, status, nil
}

// AddHistory records one entry of a ticket's history. Recording the same
// entry (ticket, code version) again is sqldb.ErrConflict.
func (s *Store) AddHistory(ctx context.Context, tx *sqldb.Tx, e HistoryEntry) error {
	const q = `INSERT INTO ticket_history (ticket_id, code_version, holder_id, reason, at) VALUES ($1, $2, $3, $4, $5)`
	if _, err := tx.ExecContext(ctx, q, e.TicketID, e.CodeVersion, e.HolderID, string(e.Reason), e.At.UnixMilli()); err != nil {
		return fmt.Errorf("add history of %s: %w", e.TicketID, sqldb.Err(err))
	}
	return nil
}

// History returns up to limit entries of ticketID's history after code
// version after, oldest first: every entry, or, when holderID is not "",
// only that holder's.
func (s *Store) History(ctx context.Context, ticketID, holderID string, after int64, limit int) ([]HistoryEntry, error) {
	q := `SELECT ticket_id, code_version, holder_id, reason, at FROM ticket_history WHERE ticket_id = $1 AND code_version > $2`
	args := []any{ticketID, after}
	if holderID != "" {
		q += ` AND holder_id = $3`
		args = append(args, holderID)
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY code_version LIMIT $%d`, len(args))
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", sqldb.Err(err))
	}
	defer rows.Close()
	out := []HistoryEntry{}
	for rows.Next() {
		var (
			e      HistoryEntry
			reason string
			at     int64
		)
		if err := rows.Scan(&e.TicketID, &e.CodeVersion, &e.HolderID, &reason, &at); err != nil {
			return nil, fmt.Errorf("history: %w", sqldb.Err(err))
		}
		e.Reason, e.At = Reason(reason), time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", sqldb.Err(err))
	}
	return out, nil
}

// EverHeld reports whether userID ever held ticketID, by its history.
func (s *Store) EverHeld(ctx context.Context, ticketID, userID string) (bool, error) {
	const q = `SELECT 1 FROM ticket_history WHERE ticket_id = $1 AND holder_id = $2 LIMIT 1`
	var one int
	switch err := sqldb.Err(s.db.Read().QueryRowContext(ctx, q, ticketID, userID).Scan(&one)); {
	case err == nil:
		return true, nil
	case errors.Is(err, sqldb.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("ever held: %w", err)
	}
}
