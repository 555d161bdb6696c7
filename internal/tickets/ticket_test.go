package tickets

import (
	"errors"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/money"
)

func TestFieldsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        Fields
		wantTitle string
		bad       []string // fields at fault
	}{
		{"ok", Fields{Title: "concert", Price: 2050}, "concert", nil},
		{"trimmed", Fields{Title: "  concert \n", Price: 1}, "concert", nil},
		{"200 runes", Fields{Title: strings.Repeat("é", 200), Price: 1}, strings.Repeat("é", 200), nil},
		{"max price", Fields{Title: "x", Price: MaxPrice}, "x", nil},
		{"emoji with joiner", Fields{Title: "👨‍👩‍👧 family day", Price: 1}, "👨‍👩‍👧 family day", nil},
		{"empty", Fields{Title: "", Price: 1}, "", []string{"title"}},
		{"blank", Fields{Title: " \t ", Price: 1}, "", []string{"title"}},
		{"201 runes", Fields{Title: strings.Repeat("é", 201), Price: 1}, "", []string{"title"}},
		{"newline inside", Fields{Title: "a\nb", Price: 1}, "", []string{"title"}},
		{"NUL", Fields{Title: "a\x00b", Price: 1}, "", []string{"title"}},
		{"escape", Fields{Title: "a\x1b[31mb", Price: 1}, "", []string{"title"}},
		{"C1 control", Fields{Title: "a\u0085b", Price: 1}, "", []string{"title"}},
		{"invalid utf8", Fields{Title: "a\xffb", Price: 1}, "", []string{"title"}},
		{"zero price", Fields{Title: "x", Price: 0}, "", []string{"price"}},
		{"negative price", Fields{Title: "x", Price: -100}, "", []string{"price"}},
		{"over max", Fields{Title: "x", Price: MaxPrice + 1}, "", []string{"price"}},
		{"both at once", Fields{Title: "", Price: 0}, "", []string{"title", "price"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.in
			err := f.Validate()
			if tt.bad == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if f.Title != tt.wantTitle {
					t.Fatalf("title %q, want %q", f.Title, tt.wantTitle)
				}
				return
			}
			var p fault.Problems
			if !errors.As(err, &p) {
				t.Fatalf("Validate = %v, want problems", err)
			}
			var got []string
			for _, pr := range p {
				got = append(got, pr.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.bad, ",") {
				t.Fatalf("fields at fault %v, want %v", got, tt.bad)
			}
		})
	}
}

func TestTicketEdit(t *testing.T) {
	t.Parallel()
	base := Ticket{ID: "t1", Title: "old", Price: 100, UserID: "seller"}
	f := Fields{Title: "new", Price: money.Cents(250)}

	tk := base
	if err := tk.Edit("seller", f); err != nil || tk.Title != "new" || tk.Price != 250 {
		t.Fatalf("Edit by seller: %v %+v", err, tk)
	}
	tk = base
	if err := tk.Edit("someone", f); !errors.Is(err, ErrNotOwner) || tk.Title != "old" {
		t.Fatalf("Edit by another user: %v %+v", err, tk)
	}
	tk = base
	tk.OrderID = "o1"
	if err := tk.Edit("seller", f); !errors.Is(err, ErrReserved) || tk.Title != "old" {
		t.Fatalf("Edit of reserved ticket: %v %+v", err, tk)
	}
	// Not the owner wins over reserved: a stranger learns nothing.
	if err := tk.Edit("someone", f); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("stranger editing reserved ticket: %v", err)
	}
}

func TestTicketReserveRelease(t *testing.T) {
	t.Parallel()
	tk := Ticket{Price: 1000}
	as := func(orderID string) Reservation { return reservation(orderID, Ticket{Price: 1000}) }
	if changed, err := tk.Reserve(as("a")); !changed || err != nil || tk.OrderID != "a" {
		t.Fatalf("first reserve: %v %v %+v", changed, err, tk)
	}
	if changed, err := tk.Reserve(as("a")); changed || err != nil {
		t.Fatalf("same order again: %v %v", changed, err)
	}
	if changed, err := tk.Reserve(as("b")); changed || !errors.Is(err, errHeldByOtherOrder) || tk.OrderID != "a" {
		t.Fatalf("other order: %v %v %+v", changed, err, tk)
	}
	if tk.Release("b") || tk.OrderID != "a" {
		t.Fatalf("release by other order changed the ticket: %+v", tk)
	}
	if !tk.Release("a") || tk.OrderID != "" {
		t.Fatalf("release: %+v", tk)
	}
	if tk.Release("a") {
		t.Fatal("second release reported a change")
	}
}

// TestTicketReserveChecksVersion: an order reserves the version it saw. A
// seller's edit after that version refuses it, whoever holds the ticket;
// reservations and releases after it do not.
func TestTicketReserveChecksVersion(t *testing.T) {
	t.Parallel()
	v := func(n int64) *int64 { return &n }
	tests := []struct {
		name        string
		tk          Ticket
		r           Reservation
		wantChanged bool
		wantErr     error  // errHeldByOtherOrder, or nil
		wantRefusal string // the refusal's reason, or ""
	}{
		{"as listed", Ticket{Price: 1000}, Reservation{OrderID: "b", Version: v(0), Price: 1000}, true, nil, ""},
		{"reserved and released since", Ticket{Price: 1000, Version: 2}, Reservation{OrderID: "b", Version: v(1), Price: 1000}, true, nil, ""},
		{"edited, then the order saw the edit", Ticket{Price: 2000, Version: 1, EditedVersion: 1}, Reservation{OrderID: "b", Version: v(1), Price: 2000}, true, nil, ""},
		{"held by another order", Ticket{Price: 1000, Version: 1, OrderID: "a"}, Reservation{OrderID: "b", Version: v(1), Price: 1000}, false, errHeldByOtherOrder, ""},
		{"held by another order, seen before it was", Ticket{Price: 1000, Version: 1, OrderID: "a"}, Reservation{OrderID: "b", Version: v(0), Price: 1000}, false, errHeldByOtherOrder, ""},
		{"price edited after the order's version", Ticket{Price: 2000, Version: 1, EditedVersion: 1}, Reservation{OrderID: "b", Version: v(0), Price: 1000}, false, nil, events.RefusedPriceChange},
		{"title edited after the order's version", Ticket{Title: "new", Price: 1000, Version: 1, EditedVersion: 1}, Reservation{OrderID: "b", Version: v(0), Price: 1000}, false, nil, events.RefusedTicketChanged},
		{"edited, then held by another order", Ticket{Price: 2000, Version: 2, EditedVersion: 1, OrderID: "a"}, Reservation{OrderID: "b", Version: v(0), Price: 1000}, false, nil, events.RefusedPriceChange},
		{"a price that is not the ticket's", Ticket{Price: 2000}, Reservation{OrderID: "b", Version: v(0), Price: 1000}, false, nil, events.RefusedPriceChange},
		{"no version (an older order.created), same price", Ticket{Price: 1000, Version: 3, EditedVersion: 3}, Reservation{OrderID: "b", Price: 1000}, true, nil, ""},
		{"no version (an older order.created), other price", Ticket{Price: 2000, Version: 3, EditedVersion: 3}, Reservation{OrderID: "b", Price: 1000}, false, nil, events.RefusedPriceChange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := tt.tk
			changed, err := tk.Reserve(tt.r)
			var ref refusal
			gotRefusal := ""
			if errors.As(err, &ref) {
				gotRefusal, err = ref.reason, nil
			}
			if changed != tt.wantChanged || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || gotRefusal != tt.wantRefusal {
				t.Fatalf("Reserve = %v, %v (refusal %q); want %v, %v (refusal %q)", changed, err, gotRefusal, tt.wantChanged, tt.wantErr, tt.wantRefusal)
			}
			if changed && tk.OrderID != tt.r.OrderID || !changed && tk.OrderID != tt.tk.OrderID {
				t.Fatalf("order after Reserve = %q", tk.OrderID)
			}
		})
	}
}

// TestEditMovesEditedVersion: an edit that changes the offer marks the
// version it will be written at; one that changes nothing does not.
func TestEditMovesEditedVersion(t *testing.T) {
	t.Parallel()
	tk := Ticket{UserID: "seller", Title: "show", Price: 1000, Version: 4, EditedVersion: 0}
	if err := tk.Edit("seller", Fields{Title: "show", Price: 1000}); err != nil || tk.EditedVersion != 0 {
		t.Fatalf("same fields: %v, edited version %d, want 0", err, tk.EditedVersion)
	}
	if err := tk.Edit("seller", Fields{Title: "show", Price: 1200}); err != nil || tk.EditedVersion != 5 {
		t.Fatalf("new price: %v, edited version %d, want 5", err, tk.EditedVersion)
	}
}
