// Package testtls records real TLS handshakes for tests: crypto/tls
// endpoints talk over net.Pipe and every byte each side writes is kept.
package testtls

import (
	ctls "crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"sync"
)

// Options describe one recorded connection.
type Options struct {
	// Version is the highest protocol version both sides offer
	// (ctls.VersionTLS12, ctls.VersionTLS13).
	Version    uint16
	ServerName string
	Cert       ctls.Certificate
	// Roots verifies the server's certificate; nil skips verification.
	Roots                  *x509.CertPool
	ClientALPN, ServerALPN []string
	// AppData exchanges "hello" and "world" after the handshake, so both
	// directions carry application data records.
	AppData bool
}

// recConn records what is written to a net.Conn.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, b...)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *recConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.out...)
}

// Record runs the connection and returns what the client sent (toServer)
// and what the server sent (toClient).
func Record(o Options) (toServer, toClient []byte, err error) {
	a, b := net.Pipe()
	cc, sc := &recConn{Conn: a}, &recConn{Conn: b}
	client := ctls.Client(cc, &ctls.Config{ServerName: o.ServerName, RootCAs: o.Roots, InsecureSkipVerify: o.Roots == nil,
		MaxVersion: o.Version, NextProtos: o.ClientALPN})
	// Without application data nobody reads after the handshake: TLS 1.3
	// session tickets, sent after it, would then block the server.
	server := ctls.Server(sc, &ctls.Config{Certificates: []ctls.Certificate{o.Cert}, MaxVersion: o.Version,
		NextProtos: o.ServerALPN, SessionTicketsDisabled: !o.AppData})
	errc := make(chan error, 1)
	go func() {
		err := server.Handshake()
		if err == nil && o.AppData {
			buf := make([]byte, 5)
			if _, err = io.ReadFull(server, buf); err == nil {
				_, err = server.Write([]byte("world"))
			}
		}
		errc <- err
	}()
	err = client.Handshake()
	if err == nil && o.AppData {
		if _, err = client.Write([]byte("hello")); err == nil {
			buf := make([]byte, 5)
			_, err = io.ReadFull(client, buf)
		}
	}
	var serr error
	if err == nil {
		serr = <-errc
	}
	// Close the pipe itself (a TLS close_notify would wait for a reader);
	// after a client error this also ends the server.
	a.Close()
	b.Close()
	if err != nil {
		<-errc
	} else {
		err = serr
	}
	if err != nil {
		return nil, nil, err
	}
	return cc.bytes(), sc.bytes(), nil
}
