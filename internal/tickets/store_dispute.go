package tickets

import (
	"context"
	"fmt"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// SoldTicket returns the ticket the paid order orderID bought; an order
// whose sale is not recorded is sqldb.ErrNotFound.
func (s *Store) SoldTicket(ctx context.Context, tx *sqldb.Tx, orderID string) (string, error) {
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT ticket_id FROM sold_orders WHERE order_id = $1`, orderID).Scan(&id); err != nil {
		return "", fmt.Errorf("sold ticket: %w", sqldb.Err(err))
	}
	return id, nil
}
