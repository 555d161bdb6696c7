package main

import (
	"errors"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// freeAddr reserves a loopback address for a server about to start: the
// port is free now, and stays free until the server binds it as long as no
// one else takes it meanwhile. So it is not one the kernel picks for a ":0"
// listener, of which the parallel tests open many (the ephemeral range:
// from 32768 on Linux, 49152 on macOS and Windows), and this test binary
// hands out each port once.
func freeAddr(t *testing.T) string {
	t.Helper()
	const lowest, count = 20000, 12000 // below every ephemeral range
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		port := lowest + mathrand.IntN(count)
		if handedOut.ports[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // some other server's
		}
		ln.Close()
		handedOut.ports[port] = true
		return addr
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

// processKey is the JWT_KEY of the processes' system.
var processKey = strings.Repeat("process-test-key", 3)

// handedOut is the ports freeAddr gave.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// TestServeProcesses runs every part as its own `ticketing serve` process,
// as a deployment does, walks a purchase and an expiry through the gateway, then stops
// each process with SIGTERM and expects a clean exit (graceful shutdown).
func TestServeProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	ns := natsbustest.StartServer(t)
	parts := []string{"auth", "tickets", "orders", "expiration", "payments", "events", "web", "gateway"}
	addrs := map[string]string{}
	for _, p := range parts {
		addrs[p] = freeAddr(t)
	}
	env := append(os.Environ(), runMainEnv+"=1",
		"NATS_URL="+ns.ClientURL(),
		"DATABASE_URL="+freshPostgres(t),
		"TICKETING_DATA_DIR="+t.TempDir(),
		"JWT_KEY="+processKey,
		"TICKET_SIGNING_KEY="+testTicketSigningKey,
		"COOKIE_SECURE=false",
		"AUTH_RATE_PER_MINUTE=0",
		"EXPIRATION_WINDOW=4s",
		"LOG_LEVEL=warn",
		"SHUTDOWN_GRACE=1s", // each drains before it stops, briefly
		"AUTH_URL=http://"+addrs["auth"], "TICKETS_URL=http://"+addrs["tickets"],
		"ORDERS_URL=http://"+addrs["orders"], "PAYMENTS_URL=http://"+addrs["payments"],
		"EVENTS_URL=http://"+addrs["events"],
		"WEB_URL=http://"+addrs["web"], "GATEWAY_URL=http://"+addrs["gateway"],
		"TRUSTED_PROXIES=127.0.0.1/32",
	)
	// One at a time, each ready before the next starts: the NATS server
	// runs in this test process under the race detector, and nats-server
	// itself races a stream update (every part's start) against a consumer
	// creation (another part's) in its file store.
	procs := map[string]*exec.Cmd{}
	probe := &http.Client{Timeout: time.Second}
	for _, name := range parts {
		addr := addrs[name]
		cmd := exec.Command(os.Args[0], "serve", name)
		cmd.Env = append(env, "TICKETING_ADDR="+addr)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[name] = cmd
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		natsbustest.Eventually(t, 60*time.Second, name+" is ready", func() bool {
			resp, err := probe.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}

	base := "http://" + addrs["gateway"]
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	left, unpaid := sellAndReserve(t, seller, buyer, "Unpaid show")
	_, o := sellAndReserve(t, seller, buyer, "Process show")
	if got := pay(t, buyer, o.ID, "tok_visa"); got != http.StatusCreated {
		t.Fatalf("pay = %d, want 201", got)
	}
	natsbustest.Eventually(t, 10*time.Second, "the paid order is complete", func() bool { return orderStatus(buyer, o.ID) == "complete" })
	// The unpaid one expires through the expiration process's schedule.
	natsbustest.Eventually(t, time.Until(unpaid.ExpiresAt)+10*time.Second, "the unpaid order is cancelled", func() bool {
		return orderStatus(buyer, unpaid.ID) == "cancelled"
	})
	natsbustest.Eventually(t, 10*time.Second, "its ticket is on sale again", func() bool { return listed(buyer, left.ID) })
	if s := orderStatus(buyer, o.ID); s != "complete" {
		t.Fatalf("the paid order is %s after the window, want complete", s)
	}
	// The gateway routes /api/events to the events process.
	asOrganizer(t, seller, processKey)
	var ev eventJSON
	if got := seller.do("POST", "/api/events", map[string]any{"name": "Process night", "venue": "Hall",
		"startsAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "faceValue": 10, "capacity": 1}, &ev); got != http.StatusCreated {
		t.Fatalf("create an event = %d", got)
	}
	var e errorCode
	if got := buyer.do("POST", "/api/events", map[string]any{"name": "x"}, &e); got != http.StatusForbidden || e.code() != "not_organizer" {
		t.Fatalf("a buyer's event = %d %+v", got, e)
	}
	var evs []eventJSON
	if buyer.do("GET", "/api/events?q=process", nil, &evs); len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("events through the gateway: %+v", evs)
	}
	// The primary flow across the processes: buy the event's ticket, pay,
	// get its code, and door staff admit it once (the gateway routes
	// /api/checkins to tickets).
	held := buyHeld(t, buyer, ev.ID)
	var code codeJSON
	if got := buyer.do("GET", "/api/tickets/"+held+"/code", nil, &code); got != http.StatusOK || code.EventID != ev.ID {
		t.Fatalf("the ticket's code = %d %+v", got, code)
	}
	if got := seller.do("POST", "/api/events/"+ev.ID+"/staff", map[string]string{"email": "door@example.com"}, nil); got != http.StatusOK {
		t.Fatalf("add door staff = %d", got)
	}
	door := signUp(t, base, "door@example.com")
	var scan checkinJSON
	natsbustest.Eventually(t, 15*time.Second, "the door staff admits the ticket", func() bool {
		return door.do("POST", "/api/checkins", map[string]string{"code": code.Code, "eventId": ev.ID}, &scan) == http.StatusOK
	})
	if scan.Result != "admitted" {
		t.Fatalf("first scan = %+v, want admitted", scan)
	}
	if door.do("POST", "/api/checkins", map[string]string{"code": code.Short, "eventId": ev.ID}, &scan); scan.Result != "already_used" {
		t.Fatalf("second scan = %+v, want already_used", scan)
	}

	for name, cmd := range procs {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Errorf("%s exited with %v after SIGTERM, want a clean exit", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30s of SIGTERM", name)
		}
	}
}
