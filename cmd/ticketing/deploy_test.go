package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// deployDir is deploy/ seen from this package.
const deployDir = "../../deploy"

// natsUsers are the users of deploy/k8s/nats/auth.conf and what each may
// publish of the events (DESIGN.md section 1). expiration publishes its
// schedules; the server, not expiration, publishes expiration.complete.
var natsUsers = map[string][]string{
	"auth":       {"session.revoked"},
	"tickets":    {events.SubjectTicketCreated, events.SubjectTicketUpdated},
	"orders":     {events.SubjectOrderCreated, events.SubjectOrderCancelled, events.SubjectOrderRefundRequested},
	"expiration": {events.ScheduleSubject("o1")},
	"payments": {events.SubjectPaymentCreated, events.SubjectPaymentRefunded, events.SubjectPaymentDisputed,
		events.PayoutScheduleSubject("e1"), events.PayoutSweepSubject},
	"events": {events.SubjectEventCreated, events.SubjectEventUpdated, events.SubjectEventCancelled},
}

// testCA writes a CA and a server certificate it signs for 127.0.0.1 into
// dir, as cert-manager or the README's openssl commands would for the NATS
// Service, and returns the files.
func testCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, srvKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ticketing test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.crt", "CERTIFICATE", caDER), write("tls.crt", "CERTIFICATE", srvDER), write("tls.key", "EC PRIVATE KEY", keyDER)
}

// deployNATS starts a NATS server with JetStream and TLS whose
// authorization is deploy/k8s/nats/auth.conf as the deploy files ship it,
// with a fresh password per user. auth.conf reads each from a variable
// ($<PART>_NATS_PASSWORD) that the server looks up in the file before the
// environment: the test's copy defines them at its head rather than in the
// process's environment, so that tests may run beside this one.
func deployNATS(t *testing.T) (ns *server.Server, passwords map[string]string, caFile string) {
	t.Helper()
	dir := t.TempDir()
	auth, err := os.ReadFile(filepath.Join(deployDir, "k8s", "nats", "auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	// The operator's user for `ticketing deadletters`, added to the users
	// as deploy/nats-operator.conf says.
	operator, err := os.ReadFile(filepath.Join(deployDir, "nats-operator.conf"))
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndex(auth, []byte("  ]\n}"))
	if end < 0 {
		t.Fatal("auth.conf does not end with its users")
	}
	passwords = map[string]string{}
	var vars bytes.Buffer
	for _, user := range slices.Sorted(maps.Keys(natsUsers)) {
		passwords[user] = rand.Text()
		fmt.Fprintf(&vars, "%s_NATS_PASSWORD: %q\n", strings.ToUpper(user), passwords[user])
	}
	passwords["operator"] = rand.Text()
	fmt.Fprintf(&vars, "OPERATOR_NATS_PASSWORD: %q\n", passwords["operator"])
	auth = slices.Concat(vars.Bytes(), auth[:end], operator, auth[end:])
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), auth, 0o600); err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile := testCA(t, dir)
	conf := fmt.Sprintf(`
host: 127.0.0.1
port: -1
jetstream { store_dir: %q }
tls { cert_file: %q, key_file: %q }
include ./auth.conf
`, filepath.Join(dir, "js"), certFile, keyFile)
	confFile := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatalf("nats.conf with deploy/k8s/nats/auth.conf: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err = server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	return ns, passwords, caFile
}

// deployRoles applies deploy/k8s/postgres/roles.sql with psql to a fresh
// database, as the PostgreSQL image does at its first start, and returns
// the DATABASE_URL of each part's role. Empty without PostgreSQL (the
// parts then use SQLite files). The roles are the server's, not the
// database's: they are dropped when the test ends.
func deployRoles(t *testing.T) map[string]string {
	t.Helper()
	base := freshPostgres(t)
	if base == "" {
		return nil
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("PostgreSQL tests need psql to run deploy/k8s/postgres/roles.sql: %v", err)
	}
	parts := []string{"auth", "tickets", "orders", "payments", "events"}
	urls := map[string]string{}
	cmd := exec.Command(psql, "-X", "-q", "-d", base, "-f", filepath.Join(deployDir, "k8s", "postgres", "roles.sql"))
	cmd.Env = os.Environ()
	for _, p := range parts {
		pw := rand.Text()
		cmd.Env = append(cmd.Env, strings.ToUpper(p)+"_DB_PASSWORD="+pw)
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(p, pw)
		urls[p] = u.String()
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", os.Getenv(sqldbtest.PostgresURLEnv))
		if err != nil {
			return
		}
		defer admin.Close()
		u, _ := url.Parse(base)
		admin.Exec("DROP DATABASE IF EXISTS " + strings.TrimPrefix(u.Path, "/") + " WITH (FORCE)")
		for _, p := range parts {
			admin.Exec("DROP ROLE IF EXISTS " + p)
		}
	})
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql -f roles.sql: %v\n%s", err, out)
	}
	return urls
}

// TestServeDeployPermissions runs every part as `serve` does in
// Kubernetes: NATS over TLS (NATS_CA_FILE) with the authorization of
// deploy/k8s/nats/auth.conf, each part with its own NATS user, and, with
// PostgreSQL, each part with its own role from deploy/k8s/postgres/roles.sql.
// The whole seed flow works (every part creates its consumers, publishes
// its events, schedules and drops expiries), and then no part can publish
// another's events, subscribe to them or to another's replies, take over
// another's consumer, or read another's tables. Sign-out works too: each
// process with an API follows session.revoked on SESSIONS, the one stream
// where a part may create, pull and delete consumers it does not name.
//
// It starts every part and a NATS server with TLS: alone under -race.
func TestServeDeployPermissions(t *testing.T) {
	parallelUnlessRace(t)
	ns, passwords, caFile := deployNATS(t)
	dbURLs := deployRoles(t)
	natsURL := fmt.Sprintf("tls://127.0.0.1:%d", ns.Addr().(*net.TCPAddr).Port)
	env := map[string]string{
		"TICKETING_ADDR":       "127.0.0.1:0",
		"TICKETING_DATA_DIR":   t.TempDir(),
		"NATS_URL":             natsURL,
		"NATS_CA_FILE":         caFile,
		"JWT_KEY":              strings.Repeat("serve-test-key-", 3),
		"TICKET_SIGNING_KEY":   testTicketSigningKey,
		"COOKIE_SECURE":        "false",
		"AUTH_RATE_PER_MINUTE": "0",
		"EXPIRATION_WINDOW":    "3s",
	}
	start := func(name string) string {
		t.Helper()
		partEnv := maps.Clone(env)
		if _, ok := natsUsers[name]; ok {
			partEnv["NATS_USER"], partEnv["NATS_PASSWORD"] = name, passwords[name]
		}
		partEnv["DATABASE_URL"] = dbURLs[name]
		return startServe(t, name, partEnv)
	}
	for _, p := range []struct{ name, env string }{
		{"auth", "AUTH_URL"}, {"tickets", "TICKETS_URL"}, {"orders", "ORDERS_URL"},
		{"payments", "PAYMENTS_URL"}, {"events", "EVENTS_URL"}, {"expiration", ""},
	} {
		u := start(p.name)
		if p.env != "" {
			env[p.env] = u
		}
	}
	env["WEB_URL"] = "http://127.0.0.1:1" // the flow below uses the API only
	base := start("gateway")

	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer@example.com")
	tk, first := sellAndReserve(t, seller, buyer, "Deployed show")
	natsbustest.Eventually(t, 6*time.Second, "the unpaid order expires", func() bool { return orderStatus(buyer, first.ID) == "cancelled" })
	natsbustest.Eventually(t, 5*time.Second, "the ticket is listed again", func() bool { return listed(buyer, tk.ID) })
	// A cancelled order drops its expiry (expiration purges its schedule).
	var second orderJSON
	natsbustest.Eventually(t, 5*time.Second, "the ticket can be reserved again", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &second) == http.StatusCreated
	})
	// Cancel once tickets has reserved the ticket: tickets handles
	// order.created and order.cancelled on separate consumers, and a
	// cancellation handled first would leave order.created waiting.
	natsbustest.Eventually(t, 5*time.Second, "the reserved ticket leaves the list", func() bool { return !listed(buyer, tk.ID) })
	if got := buyer.do("DELETE", "/api/orders/"+second.ID, nil, nil); got != http.StatusNoContent {
		t.Fatalf("cancel = %d, want 204", got)
	}
	natsbustest.Eventually(t, 5*time.Second, "the cancelled order's ticket is listed again", func() bool { return listed(buyer, tk.ID) })
	var third orderJSON
	natsbustest.Eventually(t, 5*time.Second, "the ticket can be reserved a third time", func() bool {
		return buyer.do("POST", "/api/orders", map[string]string{"ticketId": tk.ID}, &third) == http.StatusCreated
	})
	if got := pay(t, buyer, third.ID, "tok_visa"); got != http.StatusCreated {
		t.Fatalf("pay = %d, want 201", got)
	}
	natsbustest.Eventually(t, 5*time.Second, "the paid order is complete", func() bool { return orderStatus(buyer, third.ID) == "complete" })
	// The events part publishes its events and follows the tickets'.
	organizer := signUp(t, base, "organizer@example.com")
	asOrganizer(t, organizer, env["JWT_KEY"])
	var ev eventJSON
	if got := organizer.do("POST", "/api/events", map[string]any{"name": "Deployed night", "venue": "Hall",
		"startsAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "faceValue": 10, "capacity": 1}, &ev); got != http.StatusCreated {
		t.Fatalf("create an event = %d", got)
	}
	if got := organizer.do("POST", "/api/events/"+ev.ID+"/cancel", nil, nil); got != http.StatusOK {
		t.Fatalf("cancel the event = %d", got)
	}
	// The waiting room under the events part's permissions: its bucket,
	// a join, and the watch behind every read.
	var queued eventJSON
	if got := organizer.do("POST", "/api/events", map[string]any{"name": "Queued night", "venue": "Hall",
		"startsAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339), "faceValue": 10, "capacity": 1, "queue": true}, &queued); got != http.StatusCreated {
		t.Fatalf("create a queued event = %d", got)
	}
	var place queueJSON
	if got := buyer.do("POST", "/api/events/"+queued.ID+"/queue", nil, &place); got != http.StatusOK || place.Position == nil || *place.Position != 1 {
		t.Fatalf("join the waiting room = %d %+v", got, place)
	}
	if got := seller.do("GET", "/api/events/"+queued.ID+"/queue", nil, &place); got != http.StatusOK || place.Joined {
		t.Fatalf("read the waiting room = %d %+v", got, place)
	}
	// Every handler succeeded: one refused a permission (a purge, an ack)
	// would leave its message pending for a retry.
	tickets := dialNATS(t, natsURL, caFile, "tickets", passwords["tickets"])
	natsbustest.Eventually(t, 10*time.Second, "no expiry is pending", func() bool {
		for subject := range subjectCounts(t, tickets.js) {
			if strings.HasPrefix(subject, "expiration.schedule.") {
				return false
			}
		}
		return true
	})
	// A message that came early waits out its nak backoff (up to 10 s).
	var busy []string
	defer func() {
		if len(busy) > 0 {
			t.Logf("consumers not done: %v", busy)
		}
	}()
	natsbustest.Eventually(t, 30*time.Second, "every consumer has handled every message", func() bool {
		busy = unhandled(t, ns)
		return len(busy) == 0
	})

	// Sign-out under these permissions: auth publishes session.revoked into
	// SESSIONS; every process with an API follows it with an ordered
	// consumer of its own, and one started later replays it.
	ann := signUp(t, base, "ann@example.com")
	kept := sessionOf(t, ann)
	if !signedInEverywhere(t, base, kept) {
		t.Fatal("a fresh session is refused somewhere")
	}
	if got := ann.do("POST", "/api/users/signout", nil, nil); got != http.StatusOK {
		t.Fatalf("signout = %d", got)
	}
	natsbustest.Eventually(t, time.Second, "the tickets, orders and payments processes refuse the signed-out cookie", func() bool {
		return signedOutEverywhere(t, base, kept)
	})
	if got := withCookie(t, start("orders"), "GET", "/api/orders", kept); got != http.StatusUnauthorized {
		t.Errorf("an orders process started after the sign-out accepts its cookie: %d, want 401", got)
	}
	// Any part may delete a consumer on SESSIONS by name (an ordered
	// consumer deletes its own when it starts over). A part that learnt
	// the others' names (none may list them) and deleted them would hold
	// nothing up: each process starts a new consumer after the last
	// revocation it handled, and the next sign-out reaches it.
	followers := sessionConsumers(t, ns)
	thief := dialNATS(t, natsURL, caFile, "tickets", passwords["tickets"])
	for _, name := range followers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := thief.js.DeleteConsumer(ctx, events.SessionsStream, name)
		cancel()
		if err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	natsbustest.Eventually(t, 10*time.Second, "every process follows again", func() bool {
		now := sessionConsumers(t, ns)
		return len(now) == len(followers) && !slices.ContainsFunc(now, func(n string) bool { return slices.Contains(followers, n) })
	})
	bob := signUp(t, base, "bob@example.com")
	bobKept := sessionOf(t, bob)
	if got := bob.do("POST", "/api/users/signout", nil, nil); got != http.StatusOK {
		t.Fatalf("signout = %d", got)
	}
	natsbustest.Eventually(t, time.Second, "every process refuses a cookie signed out after its consumer was deleted", func() bool {
		return signedOutEverywhere(t, base, bobKept)
	})

	t.Run("no part publishes another's events", func(t *testing.T) {
		before := subjectCounts(t, tickets.js)
		var all []string
		for _, subjects := range natsUsers {
			all = append(all, subjects...)
		}
		all = append(all, events.SubjectExpirationComplete) // the server's own
		var wg sync.WaitGroup
		for user, own := range natsUsers {
			c := dialNATS(t, natsURL, caFile, user, passwords[user])
			for _, subject := range all {
				if slices.Contains(own, subject) {
					continue
				}
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					if _, err := c.js.Publish(ctx, subject, []byte(`{"id":"forged","orderId":"`+third.ID+`"}`)); err == nil {
						t.Errorf("%s published %s", user, subject)
					}
					c.waitViolation(t, "Publish to \""+subject+"\"")
				})
			}
		}
		wg.Wait()
		if after := subjectCounts(t, tickets.js); !maps.Equal(after, before) {
			t.Errorf("the stream's messages per subject went from %v to %v: a forged event was stored", before, after)
		}
		if got := orderStatus(buyer, third.ID); got != "complete" {
			t.Errorf("order %s is %s after the forged events", third.ID, got)
		}
	})

	t.Run("no part reads another's events or replies", func(t *testing.T) {
		c := dialNATS(t, natsURL, caFile, "tickets", passwords["tickets"])
		for _, subject := range []string{events.SubjectPaymentCreated, "order.>", "_INBOX.orders.>", "_INBOX.>", ">"} {
			if _, err := c.nc.SubscribeSync(subject); err != nil {
				t.Fatal(err)
			}
			c.waitViolation(t, "Subscription to \""+subject+"\"")
		}
		// payments' durable would hand tickets the order events meant for
		// payments, acked away before payments sees them.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		durable := "payments-order-created"
		if _, err := c.js.CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
			Durable: durable, FilterSubject: events.SubjectOrderCreated, AckPolicy: jetstream.AckExplicitPolicy,
		}); err == nil {
			t.Errorf("tickets created or updated %s", durable)
		}
		c.waitViolation(t, "Publish to \"$JS.API.CONSUMER.CREATE.TICKETING."+durable)
		// Nor its own durable on another part's subject.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		if _, err := c.js.CreateOrUpdateConsumer(ctx2, events.Stream, jetstream.ConsumerConfig{
			Durable: "tickets-order-created", FilterSubject: events.SubjectPaymentCreated, AckPolicy: jetstream.AckExplicitPolicy,
		}); err == nil {
			t.Error("tickets moved its order.created durable to payment.created")
		}
		c.waitViolation(t, "Publish to \"$JS.API.CONSUMER.CREATE.TICKETING.tickets-order-created.payment.created\"")
	})

	// What following session.revoked needs on SESSIONS is allowed there
	// only: not on TICKETING's durables, not to a part without an API, and
	// not listing consumers (whose names let a part pull or delete them).
	t.Run("consumer requests beyond the parts' own", func(t *testing.T) {
		for _, tc := range []struct{ user, subject string }{
			{"tickets", "$JS.API.CONSUMER.MSG.NEXT.TICKETING.payments-order-created"},
			{"tickets", "$JS.API.CONSUMER.DELETE.TICKETING.payments-order-created"},
			{"tickets", "$JS.API.CONSUMER.DELETE.TICKETING.tickets-order-created"},
			{"orders", "$JS.API.CONSUMER.CREATE.TICKETING.random.session.revoked"},
			{"orders", "$JS.API.CONSUMER.CREATE.TICKETING.random.order.created"},
			{"orders", "$JS.API.CONSUMER.CREATE.SESSIONS.random"},
			{"orders", "$JS.API.CONSUMER.DURABLE.CREATE.SESSIONS.random"},
			{"payments", "$JS.API.CONSUMER.LIST.SESSIONS"},
			{"payments", "$JS.API.CONSUMER.NAMES.SESSIONS"},
			{"payments", "$JS.API.STREAM.DELETE.SESSIONS"},
			{"payments", "$JS.API.STREAM.PURGE.SESSIONS"},
			{"expiration", "$JS.API.CONSUMER.CREATE.SESSIONS.random.session.revoked"},
			{"expiration", "$JS.API.CONSUMER.MSG.NEXT.SESSIONS.random"},
			{"expiration", "$JS.API.STREAM.UPDATE.SESSIONS"},
			// Dead letters: a part stores its own consumers' only, and
			// reads, deletes or purges none.
			{"tickets", "deadletter.orders-payment-created"},
			{"orders", "deadletter.>"},
			{"orders", "$JS.API.STREAM.MSG.GET.DEADLETTERS"},
			{"orders", "$JS.API.DIRECT.GET.DEADLETTERS"},
			{"payments", "$JS.API.STREAM.MSG.DELETE.DEADLETTERS"},
			{"payments", "$JS.API.STREAM.PURGE.DEADLETTERS"},
			{"expiration", "$JS.API.CONSUMER.CREATE.DEADLETTERS.random.deadletter.>"},
			{"events", "$JS.API.CONSUMER.CREATE.TICKETING.events-order-created.order.created"},
			{"events", "deadletter.orders-ticket-created"},
		} {
			c := dialNATS(t, natsURL, caFile, tc.user, passwords[tc.user])
			if err := c.nc.PublishRequest(tc.subject, c.nc.NewRespInbox(), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			c.waitViolation(t, "Publish to \""+tc.subject+"\"")
		}
	})

	// The server checks no permission on a schedule's target: tickets may
	// store a schedule on its own subjects that the server fires as
	// payment.created. orders terminates it (natsbus ScheduledBy): only
	// expiration.complete, from expiration's jobs, may come from a schedule.
	t.Run("a schedule cannot forge another part's event", func(t *testing.T) {
		tk, unpaid := sellAndReserve(t, seller, buyer, "Forged payment")
		natsbustest.Eventually(t, 5*time.Second, "the reserved ticket leaves the list", func() bool { return !listed(buyer, tk.ID) })
		c := dialNATS(t, natsURL, caFile, "tickets", passwords["tickets"])
		before := subjectCounts(t, c.js)[events.SubjectPaymentCreated]
		msg := &nats.Msg{Subject: "ticket.forged", Header: nats.Header{},
			Data: []byte(`{"id":"forged","orderId":"` + unpaid.ID + `","stripeId":"pi_forged"}`)}
		msg.Header.Set(jetstream.ScheduleHeader, "@at "+time.Now().UTC().Format(time.RFC3339Nano))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.js.PublishMsg(ctx, msg, jetstream.WithScheduleTarget(events.SubjectPaymentCreated)); err != nil {
			t.Fatalf("tickets stores a schedule on its own subject: %v", err)
		}
		natsbustest.Eventually(t, 5*time.Second, "the server fires the forged payment.created", func() bool {
			return subjectCounts(t, c.js)[events.SubjectPaymentCreated] == before+1
		})
		natsbustest.Eventually(t, 10*time.Second, "orders has dealt with it", func() bool { return len(unhandled(t, ns)) == 0 })
		if got := orderStatus(buyer, unpaid.ID); got == "complete" {
			t.Errorf("the unpaid order %s is %s after a payment.created fired by tickets' schedule", unpaid.ID, got)
		}
		// Terminated, and kept as a dead letter for the operator: orders
		// may store it under its own user.
		stream, err := c.js.Stream(ctx, natsbus.DeadLetterStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects["deadletter.orders-payment-created"]; n != 1 {
			t.Errorf("dead letters of orders-payment-created: %d, want 1 (all: %v)", n, info.State.Subjects)
		}
	})

	// Dead letters under these permissions: no part may read one; the
	// operator's user (deploy/nats-operator.conf) lists and replays them
	// with `ticketing deadletters`. The forged payment.created above is
	// one, which replay refuses; a ticket.created tickets sends malformed
	// is another, which replay publishes again (and orders gives up on
	// again: it still does not decode).
	t.Run("an operator lists and replays dead letters", func(t *testing.T) {
		cli := func(args ...string) (string, error) {
			t.Helper()
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"deadletters"}, args...), testEnv(map[string]string{
				"NATS_URL": natsURL, "NATS_CA_FILE": caFile, "NATS_USER": "operator", "NATS_PASSWORD": passwords["operator"],
				"TICKETING_DATA_DIR": t.TempDir(),
			}), &stdout, &stderr)
			return stdout.String(), err
		}
		list := func() string {
			t.Helper()
			out, err := cli("list")
			if err != nil {
				t.Fatalf("deadletters list: %v", err)
			}
			return out
		}
		idOf := func(out, consumer, subject string) string {
			m := regexp.MustCompile(`(?m)^(\d+)\t\S+\t` + consumer + `\t` + subject + `\t`).FindStringSubmatch(out)
			if m == nil {
				return ""
			}
			return m[1]
		}
		c := dialNATS(t, natsURL, caFile, "tickets", passwords["tickets"])
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.js.Publish(ctx, events.SubjectTicketCreated, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		var out string
		natsbustest.Eventually(t, 10*time.Second, "the malformed ticket.created is a dead letter", func() bool {
			out = list()
			return idOf(out, "orders-ticket-created", "ticket.created") != ""
		})
		forged := idOf(out, "orders-payment-created", "payment.created")
		if forged == "" || !strings.Contains(out, "forged:") {
			t.Fatalf("list:\n%s\nwant the forged payment.created, marked forged", out)
		}
		if _, err := cli("replay", forged); !errors.Is(err, natsbus.ErrForged) {
			t.Errorf("replay of the forged payment.created: %v, want ErrForged", err)
		}
		malformed := idOf(out, "orders-ticket-created", "ticket.created")
		if out, err := cli("replay", malformed); err != nil || !strings.Contains(out, "replayed "+malformed) {
			t.Fatalf("replay %s: %v\n%s", malformed, err, out)
		}
		natsbustest.Eventually(t, 10*time.Second, "the replayed ticket.created given up on again", func() bool {
			again := idOf(list(), "orders-ticket-created", "ticket.created")
			return again != "" && again != malformed
		})
		if out := list(); idOf(out, "orders-payment-created", "payment.created") != forged {
			t.Errorf("the forged dead letter is gone after the refused replay:\n%s", out)
		}
	})

	t.Run("no unknown user", func(t *testing.T) {
		for _, opts := range [][]nats.Option{
			{nats.RootCAs(caFile)},
			{nats.RootCAs(caFile), nats.UserInfo("tickets", "wrong")},
			{nats.RootCAs(caFile), nats.UserInfo("admin", "")},
		} {
			if nc, err := nats.Connect(natsURL, append(opts, nats.MaxReconnects(0))...); err == nil {
				nc.Close()
				t.Error("connected without the right credentials")
			}
		}
		if nc, err := nats.Connect(natsURL, nats.UserInfo("tickets", passwords["tickets"])); err == nil {
			nc.Close()
			t.Error("connected without trusting the test CA: the certificate is not checked")
		}
	})

	if dbURLs == nil {
		return
	}
	t.Run("no part reads another's tables", func(t *testing.T) {
		db, err := sql.Open("pgx", dbURLs["tickets"])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{
			"SELECT count(*) FROM orders.orders",
			"SELECT count(*) FROM payments.payments",
			"SELECT count(*) FROM auth.users",
			"SELECT count(*) FROM events.events",
			"CREATE SCHEMA stolen",
			"CREATE TABLE public.stolen (id int)",
		} {
			if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("tickets: %s: %v, want permission denied", q, err)
			}
		}
		var owner string
		if err := db.QueryRow("SELECT tableowner FROM pg_tables WHERE schemaname = 'tickets' AND tablename = 'tickets'").Scan(&owner); err != nil || owner != "tickets" {
			t.Errorf("tickets.tickets is owned by %q (%v), want the tickets role", owner, err)
		}
	})
}

// natsClient is a raw connection as one part's user, with the
// permission violations the server reported on it.
type natsClient struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	mu         sync.Mutex
	violations []string
	changed    chan struct{}
}

func dialNATS(t *testing.T, natsURL, caFile, user, password string) *natsClient {
	t.Helper()
	c := &natsClient{changed: make(chan struct{})}
	nc, err := nats.Connect(natsURL, nats.RootCAs(caFile), nats.UserInfo(user, password),
		nats.CustomInboxPrefix("_INBOX."+user),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if !errors.Is(err, nats.ErrPermissionViolation) {
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.violations = append(c.violations, err.Error())
			close(c.changed)
			c.changed = make(chan struct{})
		}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitViolation waits until the server has refused something whose
// description contains what.
func (c *natsClient) waitViolation(t *testing.T, what string) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		found := slices.ContainsFunc(c.violations, func(v string) bool { return strings.Contains(v, what) })
		changed, got := c.changed, slices.Clone(c.violations)
		c.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Errorf("no permissions violation for %s; the server reported %q", what, got)
			return
		}
	}
}

// subjectCounts is how many messages the TICKETING and SESSIONS streams
// hold per subject (every part with an API may ask for both streams' info).
func subjectCounts(t *testing.T, js jetstream.JetStream) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := map[string]uint64{}
	for _, name := range []string{events.Stream, events.SessionsStream} {
		stream, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(counts, info.State.Subjects)
	}
	return counts
}

// sessionConsumers names the consumers of the SESSIONS stream (the
// processes' ordered consumers), asked of the server itself.
func sessionConsumers(t *testing.T, ns *server.Server) []string {
	t.Helper()
	jsz, err := ns.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, acc := range jsz.AccountDetails {
		for _, s := range acc.Streams {
			for _, c := range s.Consumer {
				if s.Name == events.SessionsStream {
					names = append(names, c.Name)
				}
			}
		}
	}
	return names
}

// unhandled lists the durable consumers of the TICKETING stream that have
// messages not yet handed out or not yet acked, asked of the server itself
// (no user of auth.conf may see the others' consumers).
func unhandled(t *testing.T, ns *server.Server) []string {
	t.Helper()
	jsz, err := ns.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var busy []string
	for _, acc := range jsz.AccountDetails {
		for _, s := range acc.Streams {
			for _, c := range s.Consumer {
				n++
				if s.Name == events.Stream && (c.NumPending > 0 || c.NumAckPending > 0) {
					busy = append(busy, fmt.Sprintf("%s (%d pending, %d unacked, %d redelivered)", c.Name, c.NumPending, c.NumAckPending, c.NumRedelivered))
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no consumers")
	}
	return busy
}
