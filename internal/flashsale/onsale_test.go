package flashsale

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func order(id, ticket, event, status string) Order {
	o := Order{ID: id, Status: status}
	o.Ticket.ID, o.Ticket.EventID = ticket, event
	return o
}

func won(orderID, ticket string) Answer {
	return Answer{Status: http.StatusCreated, OrderID: orderID, TicketID: ticket}
}

// TestCheck: the verification accepts a right sale and names each way a
// sale can be wrong.
func TestCheck(t *testing.T) {
	soldOut := Answer{Status: http.StatusConflict, Code: "sold_out"}
	lost := Answer{Err: errors.New("connection reset")}
	tests := []struct {
		name    string
		answers []Answer
		orders  []Order
		want    []string // substrings of the problems; none for a right sale
		active  int
	}{
		{"right", []Answer{won("o1", "t1"), won("o2", "t2"), soldOut},
			[]Order{order("o1", "t1", "e", "created"), order("o2", "t2", "e", "complete")}, nil, 2},
		{"an answer lost, its order found among the buyer's", []Answer{won("o1", "t1"), lost},
			[]Order{order("o1", "t1", "e", "created"), order("o2", "t2", "e", "awaiting:payment")},
			[]string{"1 distinct tickets among 1 answers 201, want 2"}, 2},
		{"cancelled orders and other events do not count", []Answer{won("o1", "t1"), won("o2", "t2")},
			[]Order{order("o1", "t1", "e", "created"), order("o2", "t2", "e", "cancelled"), order("o3", "t3", "x", "created")},
			[]string{"order o2, answered 201 with ticket t2, is not an active order", "1 active orders of the event, want exactly 2"}, 1},
		{"one ticket in two orders", []Answer{won("o1", "t1"), won("o2", "t1")},
			[]Order{order("o1", "t1", "e", "created"), order("o2", "t1", "e", "created")},
			[]string{"ticket t1 is in orders o1 and o2", "ticket t1 was answered 201 twice",
				"order o2, answered 201 with ticket t1, is not an active order", "1 distinct tickets among 2 answers 201, want 2"}, 2},
		{"oversold", []Answer{won("o1", "t1"), won("o2", "t2"), won("o3", "t3")},
			[]Order{order("o1", "t1", "e", "created"), order("o2", "t2", "e", "created"), order("o3", "t3", "e", "created")},
			[]string{"3 active orders of the event, want exactly 2", "3 distinct tickets among 3 answers 201, want 2"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Check(2, "e", tt.answers, tt.orders)
			if v.ActiveOrders != tt.active {
				t.Errorf("active orders = %d, want %d", v.ActiveOrders, tt.active)
			}
			if len(tt.want) == 0 && v.Err() != nil {
				t.Fatalf("problems in a right sale: %v", v.Err())
			}
			if len(v.Problems) != len(tt.want) {
				t.Errorf("problems = %q, want %d of them", v.Problems, len(tt.want))
			}
			for _, w := range tt.want {
				if v.Err() == nil || !strings.Contains(v.Err().Error(), w) {
					t.Errorf("problems = %q, want one with %q", v.Problems, w)
				}
			}
		})
	}
}

// TestStats: the window while tickets remained ends at the last 201, and
// the latencies are split into winners and sold_out losers.
func TestStats(t *testing.T) {
	r := OnSaleResult{Answers: []Answer{
		{Status: 201, Latency: 5, At: 10}, {Status: 409, Code: "sold_out", Latency: 3, At: 8},
		{Status: 201, Latency: 7, At: 20}, {Status: 409, Code: "sold_out", Latency: 2, At: 30},
		{Err: errors.New("reset"), At: 15},
	}}
	s := r.Stats()
	if s.Attempts != 5 || s.Won != 2 || s.Lost != 2 || s.Errors != 1 || s.Window != 20 || s.WindowAttempts != 4 {
		t.Errorf("stats = %+v", s)
	}
	if Pct(s.WinLat, 0.5) != 7 || Pct(s.LoseLat, 0) != 2 || s.ByCode["sold_out"] != 2 {
		t.Errorf("latencies: winners %v, losers %v, codes %v", s.WinLat, s.LoseLat, s.ByCode)
	}
}

// TestCheckScans: the door is right when every first scan is admitted and
// every re-scan already_used, and each other outcome is named.
func TestCheckScans(t *testing.T) {
	admitted := Scan{Status: 200, Result: "admitted"}
	used := Scan{Status: 200, Result: "already_used"}
	if p := CheckScans([]Scan{admitted, admitted}, []Scan{used}); len(p) != 0 {
		t.Errorf("problems at a right door: %q", p)
	}
	p := CheckScans([]Scan{admitted, used, {Status: 200, Result: "void"}, {Status: 503, Code: "unavailable"}, {Err: errors.New("reset")}},
		[]Scan{used, admitted})
	want := []string{"1 first scans were 503 unavailable", "1 first scans were already_used", "1 first scans were transport error",
		"1 first scans were void", "1 re-scans were admitted, want already_used"}
	if len(p) != len(want) {
		t.Fatalf("problems = %q, want %d", p, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(p[i], w) {
			t.Errorf("problem %d = %q, want %q…", i, p[i], w)
		}
	}
	if p := CheckScans([]Scan{admitted}, nil); len(p) != 1 || p[0] != "no code was scanned again" {
		t.Errorf("without re-scans: %q", p)
	}
}
