package tickets

import (
	"errors"
	"strings"
	"testing"

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
	var tk Ticket
	if changed, err := tk.Reserve("a"); !changed || err != nil || tk.OrderID != "a" {
		t.Fatalf("first reserve: %v %v %+v", changed, err, tk)
	}
	if changed, err := tk.Reserve("a"); changed || err != nil {
		t.Fatalf("same order again: %v %v", changed, err)
	}
	if changed, err := tk.Reserve("b"); changed || !errors.Is(err, errHeldByOtherOrder) || tk.OrderID != "a" {
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
