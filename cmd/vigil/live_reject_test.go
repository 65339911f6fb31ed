package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// rejectRules reject a TCP request to port 7010 toward both ends and a
// UDP datagram to port 7011 toward its sender.
const rejectRules = `rejectboth tcp any any -> any 7010 (msg:"vlive reject tcp"; flow:established,to_server; content:"VLIVE-REJECT"; sid:1000020; rev:1;)
reject udp any any -> any 7011 (msg:"vlive reject udp"; content:"VLIVE-REJECT"; sid:1000021; rev:1;)
`

// rejectTraffic checks what each end sees: the client's TCP connection
// and the server's accepted one are reset, the client's connected UDP
// socket gets the ICMP unreachable as an error.
func rejectTraffic(t *testing.T, clientNS, serverNS, server string) {
	t.Helper()
	var ln net.Listener
	if err := inNetns(serverNS, func() (err error) { ln, err = net.Listen("tcp4", server+":7010"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	accepted := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		close(accepted)
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 100)
		for {
			if _, err := c.Read(buf); err != nil {
				srvErr <- err
				return
			}
		}
	}()
	var conn net.Conn
	if err := inNetns(clientNS, func() (err error) { conn, err = net.DialTimeout("tcp4", server+":7010", 5*time.Second); return err }); err != nil {
		t.Fatalf("TCP connect: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The server's socket must be out of the accept queue before the
	// reset reaches it (a reset child is dropped from the queue).
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not accept the connection")
	}
	if _, err := conn.Write([]byte("VLIVE-REJECT please")); err != nil {
		t.Fatalf("TCP send: %v", err)
	}
	_, err := conn.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client's TCP read: %v, want a reset", err)
	}
	select {
	case err := <-srvErr:
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("server's TCP read: %v, want a reset", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the server's connection was not reset")
	}

	var uc net.Conn
	if err := inNetns(clientNS, func() (err error) { uc, err = net.Dial("udp4", server+":7011"); return err }); err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := uc.Write([]byte("VLIVE-REJECT datagram")); err != nil {
		t.Fatal(err)
	}
	_, err = uc.Read(make([]byte, 10))
	if !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("client's UDP read: %v, want the ICMP unreachable's error", err)
	}
}

func writeRejectRules(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "reject.rules")
	if err := os.WriteFile(p, []byte(rejectRules), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkRejected reads vigil's final counters: two packets rejected, three
// frames sent (two resets, one unreachable), none failed.
func checkRejected(t *testing.T, v *vigilProc) {
	t.Helper()
	v.stop()
	r := v.result()
	for k, want := range map[string]int64{"ips.rejected": 2, "ips.reject_sent": 3, "ips.reject_failed": 0} {
		if n := statNum(r.final, k); n != want {
			t.Errorf("%s = %d, want %d", k, n, want)
		}
	}
}

// TestLiveRejectAFPacketBridge: vigil -i A,B sends the resets out of both
// sides of the bridge and the unreachable back to the client.
func TestLiveRejectAFPacketBridge(t *testing.T) {
	bt, client, server := newBridgeTopo(t, "rj", "10.213.9")
	bt.checkNothingPasses(t, client, server)
	v := startVigil(t, bt.nsV, "-i", bt.a+","+bt.b, "-S", writeRejectRules(t))
	v.waitReady()
	rejectTraffic(t, bt.nsC, bt.nsS, server)
	checkRejected(t, v)
}

// TestLiveRejectNFQueue: vigil -q N on a router answers from the router's
// raw sockets.
func TestLiveRejectNFQueue(t *testing.T) {
	rt := newRouterTopo(t)
	rt.ipt(t, "-F", "FORWARD")
	rt.ipt(t, "-P", "FORWARD", "ACCEPT")
	rt.ipt(t, "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", nfqQueue)
	v := startVigil(t, rt.nsR, "-q", nfqQueue, "-S", writeRejectRules(t))
	v.waitReady()
	rejectTraffic(t, rt.nsC, rt.nsS, nfqServer)
	checkRejected(t, v)
}

// TestLiveRejectAFXDPBridge: vigil --af-xdp=A,B injects the resets and the
// unreachable into the bridge's UMEM and out of the right side.
func TestLiveRejectAFXDPBridge(t *testing.T) {
	requireAFXDP(t)
	bt, client, server := newBridgeTopo(t, "rx", "10.213.10")
	bt.checkNothingPasses(t, client, server)
	v := startVigil(t, bt.nsV, "--af-xdp="+bt.a+","+bt.b, "-S", writeRejectRules(t))
	v.waitReady()
	rejectTraffic(t, bt.nsC, bt.nsS, server)
	checkRejected(t, v)
}
