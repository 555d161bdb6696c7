package tickets

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// A ticket's history (DESIGN.md 9.3): every change of holder and every
// re-issue of its code is an entry, written in the transaction of the
// change (Service.write records what the change noted on the ticket). The
// organizer of the ticket's event reads all of it; a holder, current or
// former, the entries of their own holding periods.

// Reason is why a ticket's code was issued: the history entry's "why".
type Reason string

const (
	// ReasonIssued: the paid primary sale made the buyer the holder.
	ReasonIssued Reason = "issued"
	// ReasonResold: a paid resale made the buyer the holder.
	ReasonResold Reason = "resold"
	// ReasonTransferred: the recipient of a transfer accepted it.
	ReasonTransferred Reason = "transferred"
	// ReasonVoided: the event was cancelled, or the holder's payment
	// disputed; the holder's code is void.
	ReasonVoided Reason = "voided"
)

// HistoryEntry is one entry of a ticket's history: from At, HolderID held
// the ticket with code CodeVersion, for Reason.
type HistoryEntry struct {
	TicketID    string
	CodeVersion int64
	HolderID    string
	Reason      Reason
	At          time.Time
}

// MaxHistoryPage is the most entries one page of a ticket's history holds.
const MaxHistoryPage = 100

// note adds why to the entries the change being made owes the ticket's
// history.
func (t *Ticket) note(why Reason) {
	if t.noted != "" {
		t.noted += " "
	}
	t.noted += string(why)
}

// recordHistory writes, in tx, the entries t's changes noted, and clears
// them. Each noted change moved the code version on by one, the last to
// t's current one (a short-form clash may have moved it further: the last
// entry takes the code actually issued).
func (s *Service) recordHistory(ctx context.Context, tx *sqldb.Tx, t *Ticket) error {
	if t.noted == "" {
		return nil
	}
	reasons := strings.Fields(t.noted)
	t.noted = ""
	at := s.now().UTC().Truncate(time.Millisecond)
	for i, why := range reasons {
		e := HistoryEntry{TicketID: t.ID, CodeVersion: t.CodeVersion - int64(len(reasons)-1-i),
			HolderID: t.HolderID, Reason: Reason(why), At: at}
		if err := s.store.AddHistory(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// History returns a page of ticket id's history as viewerID may see it,
// oldest first, after the entry of code version after (0: from the
// start), at most limit entries (limit ≤ 0: MaxHistoryPage). The
// organizer of the ticket's event sees every entry; a current or former
// holder only their own; anyone else gets ErrNotFound.
func (s *Service) History(ctx context.Context, viewerID, id string, after int64, limit int) ([]HistoryEntry, error) {
	if !ids.Valid(id) || viewerID == "" {
		return nil, ErrNotFound
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxHistoryPage+1 {
		limit = MaxHistoryPage
	}
	holder := viewerID
	if t.UserID == viewerID {
		holder = "" // the organizer (or a free-form listing's seller): all
	}
	list, err := s.store.History(ctx, id, holder, after, limit)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	}
	if holder != "" && len(list) == 0 && t.HolderID != viewerID {
		held, err := s.store.EverHeld(ctx, id, viewerID)
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		if !held {
			return nil, ErrNotFound
		}
	}
	return list, nil
}
