package applayer

import (
	"encoding/binary"

	"github.com/vigil-ids/vigil/dataplane/flow"
)

// probeResult is the outcome of protocol detection on the first bytes of
// one direction.
type probeResult uint8

const (
	probeNeedMore probeResult = iota // a prefix of a known pattern: wait for more bytes
	probeFound                       // protocol recognised
	probeFailed                      // no known protocol starts this way
)

// probeMax is how many bytes of a direction protocol detection looks at
// before it gives up on that direction.
const probeMax = 4096

// httpMethods are the request methods that start an HTTP/1.x request, as
// Suricata's HTTP detection patterns list them (each followed by a space
// or a tab).
var httpMethods = [...]string{
	"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "CHECKOUT",
	"UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL", "REPORT", "MKWORKSPACE", "MKACTIVITY",
	"MERGE", "INVALID", "VERSION-CONTROL", "BASELINE-CONTROL", "SEARCH", "ORDERPATCH",
	"ACL", "POLL", "SUBSCRIBE", "UNSUBSCRIBE", "NOTIFY", "BMOVE", "BCOPY", "BDELETE",
	"BPROPFIND", "BPROPPATCH", "X-MS-ENUMATTS", "RPC_IN_DATA", "RPC_OUT_DATA",
}

// probe recognises the protocol that data (the first bytes of one
// direction) starts with. Content decides; ports only break ties: DNS over
// TCP, which has no pattern, is only probed on port 53 of either side.
func probe(data []byte, tcp bool, sport, dport uint16) (flow.AppProto, probeResult) {
	if len(data) == 0 {
		return flow.AppProtoUnknown, probeNeedMore
	}
	need := false
	if r := probeHTTP(data); r == probeFound {
		return flow.AppProtoHTTP1, probeFound
	} else if r == probeNeedMore {
		need = true
	}
	if r := probeTLS(data); r == probeFound {
		return flow.AppProtoTLS, probeFound
	} else if r == probeNeedMore {
		need = true
	}
	if tcp && (sport == 53 || dport == 53) {
		switch r := probeDNSTCP(data); r {
		case probeFound:
			return flow.AppProtoDNS, probeFound
		case probeNeedMore:
			need = true
		}
	}
	if need && len(data) < probeMax {
		return flow.AppProtoUnknown, probeNeedMore
	}
	return flow.AppProtoUnknown, probeFailed
}

// probeHTTP: a request method followed by a space or tab, or a response's
// "HTTP/" status line.
func probeHTTP(data []byte) probeResult {
	res := probeFailed
	if r := prefix(data, "HTTP/"); r != probeFailed {
		return r
	}
	for _, m := range httpMethods {
		switch prefix(data, m) {
		case probeFound:
			if len(data) == len(m) {
				res = probeNeedMore
				continue
			}
			if c := data[len(m)]; c == ' ' || c == '\t' {
				return probeFound
			}
		case probeNeedMore:
			res = probeNeedMore
		}
	}
	return res
}

// prefix compares data with the start of pat (ASCII case-insensitively,
// as HTTP detection does).
func prefix(data []byte, pat string) probeResult {
	n := min(len(data), len(pat))
	for i := 0; i < n; i++ {
		c := data[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != pat[i] {
			return probeFailed
		}
	}
	if n < len(pat) {
		return probeNeedMore
	}
	return probeFound
}

// probeTLS: a TLS handshake record (content type 22, version 3.x), or an
// SSLv2-framed ClientHello.
func probeTLS(data []byte) probeResult {
	if len(data) < 3 {
		switch {
		case data[0] == 0x16 && (len(data) == 1 || data[1] == 0x03):
			return probeNeedMore
		case data[0]&0x80 != 0:
			return probeNeedMore
		}
		return probeFailed
	}
	if data[0] == 0x16 && data[1] == 0x03 && data[2] <= 0x04 {
		return probeFound
	}
	// SSLv2 record header (2 bytes, high bit set) then msg type 1
	// (ClientHello) and a version 2.0 or 3.x.
	if data[0]&0x80 != 0 && data[2] == 0x01 {
		if len(data) < 5 {
			return probeNeedMore
		}
		if (data[3] == 0x00 && data[4] == 0x02) || (data[3] == 0x03 && data[4] <= 0x04) {
			return probeFound
		}
	}
	return probeFailed
}

// probeDNSTCP: a length-prefixed DNS message whose header is plausible.
func probeDNSTCP(data []byte) probeResult {
	if len(data) < 2+12 {
		return probeNeedMore
	}
	n := int(binary.BigEndian.Uint16(data))
	if n < 12 {
		return probeFailed
	}
	if !plausibleDNSHeader(data[2:]) {
		return probeFailed
	}
	return probeFound
}

// probeDNSUDP: a DNS message (the whole UDP payload) with a plausible
// header and at least one question, on any port but NetBIOS name
// service's (137): NBNS uses DNS's wire format for a different protocol
// (its own name encoding and record types), which Suricata does not log as
// DNS either.
func probeDNSUDP(data []byte, sport, dport uint16) bool {
	if sport == 137 || dport == 137 {
		return false
	}
	return len(data) >= 12 && plausibleDNSHeader(data)
}

func plausibleDNSHeader(h []byte) bool {
	flags := binary.BigEndian.Uint16(h[2:])
	opcode := (flags >> 11) & 0xf
	qd := binary.BigEndian.Uint16(h[4:])
	an := binary.BigEndian.Uint16(h[6:])
	ns := binary.BigEndian.Uint16(h[8:])
	ar := binary.BigEndian.Uint16(h[10:])
	if opcode > 6 || qd == 0 || qd > 64 || an > 512 || ns > 512 || ar > 512 {
		return false
	}
	if flags&0x8000 == 0 && an > 0 && opcode == 0 {
		// A standard query carries no answers.
		return false
	}
	return true
}
