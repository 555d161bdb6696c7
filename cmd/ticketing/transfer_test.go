package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// transferJSON is a transfer as the API shows it.
type transferJSON struct {
	ID         string `json:"id"`
	TicketID   string `json:"ticketId"`
	FromUserID string `json:"fromUserId"`
	ToEmail    string `json:"toEmail"`
	Status     string `json:"status"`
}

// transfersJSON is GET /api/transfers' answer.
type transfersJSON struct {
	Incoming []transferJSON `json:"incoming"`
	Outgoing []transferJSON `json:"outgoing"`
}

// historyJSON is one entry of GET /api/tickets/{id}/history.
type historyJSON struct {
	HolderID string `json:"holderId"`
	Reason   string `json:"reason"`
}

// TestUpTransfer is the transfer of an issued ticket end to end through
// `up` (DESIGN.md 9.3): the holder transfers it to an email, the account
// with that email accepts it and gets a new code; the sender's code is
// void at the door, the recipient's admitted; the history shows both
// holders to the organizer and each holder their own part. Turning
// transfers off cancels a pending one.
func TestUpTransfer(t *testing.T) {
	t.Parallel()
	const key = "transfer-test-key-transfer-test-"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	first := signUp(t, base, "first@example.com")
	second := signUp(t, base, "second@example.com")
	door := signUp(t, base, "door@example.com")

	show := createOnSaleEvent(t, org, "Folk night", 1)
	if got := org.do("POST", "/api/events/"+show+"/staff", map[string]string{"email": "door@example.com"}, nil); got != http.StatusOK {
		t.Fatalf("add staff = %d", got)
	}
	ticket := buyHeld(t, first, show)
	var old codeJSON
	if got := first.do("GET", "/api/tickets/"+ticket+"/code", nil, &old); got != http.StatusOK {
		t.Fatalf("first holder's code = %d", got)
	}

	var refused errorCode
	if got := first.do("POST", "/api/tickets/"+ticket+"/transfer", map[string]string{"email": "First@Example.com"}, &refused); got != http.StatusBadRequest || refused.code() != "transfer_to_self" {
		t.Fatalf("transfer to oneself = %d %s, want 400 transfer_to_self", got, refused.code())
	}
	var tr transferJSON
	if got := first.do("POST", "/api/tickets/"+ticket+"/transfer", map[string]string{"email": "Second@example.com"}, &tr); got != http.StatusCreated || tr.Status != "pending" || tr.ToEmail != "second@example.com" {
		t.Fatalf("transfer = %d %+v, want 201 pending", got, tr)
	}
	if got := first.do("POST", "/api/tickets/"+ticket+"/listing", map[string]any{"price": 30}, &refused); got != http.StatusConflict || refused.code() != "transfer_pending" {
		t.Fatalf("listing with a transfer pending = %d %s, want 409 transfer_pending", got, refused.code())
	}
	var mine transfersJSON
	if got := second.do("GET", "/api/transfers", nil, &mine); got != http.StatusOK || len(mine.Incoming) != 1 || mine.Incoming[0].ID != tr.ID {
		t.Fatalf("recipient's transfers = %d %+v", got, mine)
	}
	if got := door.do("POST", "/api/transfers/"+tr.ID+"/accept", nil, nil); got != http.StatusNotFound {
		t.Fatalf("accept by someone else = %d, want 404", got)
	}
	var held issuedJSON
	if got := second.do("POST", "/api/transfers/"+tr.ID+"/accept", nil, &held); got != http.StatusOK || !held.HeldByYou || held.CodeVersion != old.CodeVersion+1 {
		t.Fatalf("accept = %d %+v, want 200 held by the recipient with the next code", got, held)
	}
	if got := second.do("POST", "/api/transfers/"+tr.ID+"/accept", nil, &refused); got != http.StatusConflict || refused.code() != "transfer_accepted" {
		t.Fatalf("accept again = %d %s, want 409 transfer_accepted", got, refused.code())
	}
	var fresh codeJSON
	if got := second.do("GET", "/api/tickets/"+ticket+"/code", nil, &fresh); got != http.StatusOK || fresh.CodeVersion != old.CodeVersion+1 {
		t.Fatalf("recipient's code = %d %+v", got, fresh)
	}
	if got := first.do("GET", "/api/tickets/"+ticket+"/code", nil, nil); got != http.StatusNotFound {
		t.Fatalf("sender's code after the transfer = %d, want 404", got)
	}
	for _, c := range []string{old.Code, old.Short} {
		var out checkinJSON
		if got := door.do("POST", "/api/checkins", map[string]string{"code": c, "eventId": show}, &out); got != http.StatusOK || out.Result != "void" {
			t.Fatalf("sender's code %s at the door = %d %+v, want void", c, got, out)
		}
	}

	var all, own []historyJSON
	if got := org.do("GET", "/api/tickets/"+ticket+"/history", nil, &all); got != http.StatusOK || len(all) != 2 ||
		all[0].Reason != "issued" || all[1].Reason != "transferred" || all[0].HolderID == all[1].HolderID {
		t.Fatalf("organizer's history = %d %+v, want issued then transferred", got, all)
	}
	if got := first.do("GET", "/api/tickets/"+ticket+"/history", nil, &own); got != http.StatusOK || len(own) != 1 || own[0].Reason != "issued" {
		t.Fatalf("former holder's history = %d %+v, want their own entry", got, own)
	}
	if got := door.do("GET", "/api/tickets/"+ticket+"/history", nil, nil); got != http.StatusNotFound {
		t.Fatalf("history for someone else = %d, want 404", got)
	}

	// A transfer back, pending when the organizer turns transfers off:
	// cancelled (event.updated), so it cannot be accepted.
	var back transferJSON
	if got := second.do("POST", "/api/tickets/"+ticket+"/transfer", map[string]string{"email": "first@example.com"}, &back); got != http.StatusCreated {
		t.Fatalf("transfer back = %d", got)
	}
	if got := org.do("PUT", "/api/events/"+show, map[string]any{"transfers": false}, nil); got != http.StatusOK {
		t.Fatalf("turning transfers off = %d", got)
	}
	natsbustest.Eventually(t, 15*time.Second, "the pending transfer is cancelled", func() bool {
		var list transfersJSON
		first.do("GET", "/api/transfers", nil, &list)
		return len(list.Incoming) == 0
	})
	if got := first.do("POST", "/api/transfers/"+back.ID+"/accept", nil, &refused); got != http.StatusConflict || refused.code() != "transfer_cancelled" {
		t.Fatalf("accepting a transfer cancelled by the organizer = %d %s, want 409 transfer_cancelled", got, refused.code())
	}

	var in checkinJSON
	if got := door.do("POST", "/api/checkins", map[string]string{"code": fresh.Code, "eventId": show}, &in); got != http.StatusOK || in.Result != "admitted" {
		t.Fatalf("recipient's code at the door = %d %+v, want admitted", got, in)
	}
}
