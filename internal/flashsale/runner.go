package flashsale

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// minter makes a scenario's clients: one HTTP transport sized for its
// in-flight requests, shared by all, and a session token minted with the
// system's key for each (no sign-up through argon2id, which is slow on
// purpose). Each client but with oneAddress names an address of its own
// (X-Forwarded-For), so the per-address limits see many buyers.
type minter struct {
	key        []byte
	base       string
	oneAddress bool
	tr         *http.Transport
	hc         *http.Client
	run        int64
	n          int
}

func newMinter(key []byte, base string, inFlight int, oneAddress bool) *minter {
	tr := &http.Transport{MaxIdleConns: 2 * inFlight, MaxIdleConnsPerHost: 2 * inFlight, IdleConnTimeout: time.Minute}
	return &minter{key: key, base: base, oneAddress: oneAddress, tr: tr,
		hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, run: time.Now().UnixNano()}
}

// close drops the idle connections.
func (m *minter) close() { m.tr.CloseIdleConnections() }

// mint returns a new user's client, an organizer if organizer. Not safe
// for concurrent use.
func (m *minter) mint(role string, organizer bool) (client, error) {
	m.n++
	tok, err := session.Issue(m.key, session.User{ID: uuid.NewString(),
		Email: fmt.Sprintf("%s-%d-%d@flash.test", role, m.run, m.n), Organizer: organizer}, time.Now(), 2*time.Hour)
	cl := client{c: m.hc, base: m.base, token: tok}
	if !m.oneAddress {
		cl.addr = fmt.Sprintf("10.%d.%d.%d", m.n>>16&255, m.n>>8&255, m.n&255)
	}
	return cl, err
}

// logger is a scenario's progress log to w (nil: none).
func logger(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
}
