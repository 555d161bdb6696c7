package sqldbtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Outage is a TCP proxy in front of the test PostgreSQL server that a test
// cuts (or hangs) to take the database away and restores to bring it back:
// while cut, new connections are refused and the open ones are dropped, as
// when the server is down; while hung, they are accepted and never
// answered, as when its host is cut off by the network. It cuts only the connections made through
// it, so other tests sharing the server go on.
type Outage struct {
	tb     testing.TB
	target string // the server's host:port
	addr   string // the proxy's host:port, the same after a restore
	mu     sync.Mutex
	ln     net.Listener      // nil while cut
	hang   bool              // accept, then never answer
	conns  map[net.Conn]bool // open connections, both sides
	wg     sync.WaitGroup    // accept loops and copies
}

// Cuttable returns rawURL (a PostgreSQL URL) pointed at a new Outage proxy
// in front of its server, and the proxy. The proxy closes when the test
// ends.
func Cuttable(tb testing.TB, rawURL string) (string, *Outage) {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("postgres URL: %v", err)
	}
	o := &Outage{tb: tb, target: u.Host, conns: map[net.Conn]bool{}}
	if u.Port() == "" {
		o.target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	o.addr = ln.Addr().String()
	o.serve(ln)
	tb.Cleanup(func() {
		o.Cut()
		o.wg.Wait()
	})
	u.Host = o.addr
	return u.String(), o
}

// Cut takes the database away: the proxy stops listening (a connection is
// refused) and drops every open connection.
func (o *Outage) Cut() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for c := range o.conns {
		c.Close()
	}
	clear(o.conns)
}

// Hang makes the database silent rather than refusing: a new connection
// is accepted and never answered, as when the server's host is cut off by
// the network, and the open ones are dropped.
func (o *Outage) Hang() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hang = true
	for c := range o.conns {
		c.Close()
	}
	clear(o.conns)
}

// Restore brings the database back on the same address.
func (o *Outage) Restore() {
	o.tb.Helper()
	o.mu.Lock()
	hung := o.hang
	o.hang = false
	o.mu.Unlock()
	if hung {
		return
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		o.tb.Fatalf("restore the database proxy on %s: %v", o.addr, err)
	}
	o.serve(ln)
}

func (o *Outage) serve(ln net.Listener) {
	o.mu.Lock()
	o.ln = ln
	o.mu.Unlock()
	o.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // cut
			}
			o.wg.Go(func() { o.pipe(c) })
		}
	})
}

// pipe joins a client connection to the server until either side closes
// or the proxy is cut.
func (o *Outage) pipe(client net.Conn) {
	o.mu.Lock()
	if o.hang {
		o.conns[client] = true
		o.mu.Unlock()
		io.Copy(io.Discard, client) // until the client gives up or the proxy closes it
		client.Close()
		o.mu.Lock()
		delete(o.conns, client)
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	server, err := net.Dial("tcp", o.target)
	if err != nil {
		client.Close()
		return
	}
	o.mu.Lock()
	if o.ln == nil { // cut while dialling
		o.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	o.conns[client], o.conns[server] = true, true
	o.mu.Unlock()
	var copies sync.WaitGroup
	copies.Go(func() { io.Copy(server, client); server.Close(); client.Close() })
	copies.Go(func() { io.Copy(client, server); client.Close(); server.Close() })
	copies.Wait()
	o.mu.Lock()
	delete(o.conns, client)
	delete(o.conns, server)
	o.mu.Unlock()
}
