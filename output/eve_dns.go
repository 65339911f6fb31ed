package output

import (
	"errors"

	"github.com/vigil-ids/vigil/dataplane/applayer/dns"
	"github.com/vigil-ids/vigil/dataplane/packet"
)

// DNSFormat selects how a dns record shows answers (EVEConfig.DNSFormats).
type DNSFormat uint8

const (
	// DNSDetailed writes "answers": an object per answer record.
	DNSDetailed DNSFormat = 1 << iota
	// DNSGrouped writes "grouped": the answers' data by rrtype.
	DNSGrouped
)

var errNilDNS = errors.New("output: eve: dns: nil packet or message")

// DNS writes a "dns" record (Suricata 8, dns version 3) for message m,
// transaction txID of flow flowID. Like Suricata, it writes the header in
// the flow's orientation (fi; the packet's when fi is nil) for requests
// and responses alike, and writes nothing for a message without questions
// or of a kind turned off (EVEConfig.DNSNoRequests, DNSNoResponses).
//
// The "dns" object: version, type ("request"/"response"), tx_id, id,
// flags, qr, aa, tc, rd, ra, z (each only when set), opcode, rcode,
// queries [{rrname, rrtype}], answers [{rrname, rrtype, ttl, rdata | soa |
// srv | sshfp | opt}], grouped {RRTYPE: [...]}, authorities, additionals
// (OPT records without options left out). Suricata writes the grouped
// keys in hash order; here they follow the order of first appearance.
func (e *EVE) DNS(p *packet.Packet, flowID uint64, fi *FlowInfo, m *dns.Message, txID uint64) error {
	if e.s.closed {
		return ErrClosed
	}
	if p == nil || m == nil {
		return errNilDNS
	}
	if len(m.Questions) == 0 {
		return nil
	}
	if (m.Response() && e.cfg.DNSNoResponses) || (!m.Response() && e.cfg.DNSNoRequests) {
		return nil
	}
	e.beginFlow(p, flowID, fi, "dns")
	e.dnsObject(m, txID)
	return e.end()
}

// dnsObject writes the "dns" object of a message, for dns records and
// alerts alike.
func (e *EVE) dnsObject(m *dns.Message, txID uint64) {
	j := &e.s.j
	j.openObject("dns")
	j.int("version", 3)
	if m.Response() {
		j.str("type", "response")
	} else {
		j.str("type", "request")
	}
	j.uint("tx_id", txID)
	j.uint("id", uint64(m.ID))
	j.key("flags")
	j.b = append(j.b, '"')
	j.b = dns.AppendFlags(j.b, m.Flags)
	j.b = append(j.b, '"')
	for _, f := range dnsFlagKeys {
		if m.Flags&f.bit != 0 {
			j.boolean(f.key, true)
		}
	}
	j.uint("opcode", uint64(m.Opcode()))
	j.key("rcode")
	j.b = append(j.b, '"')
	j.b = dns.AppendRcode(j.b, m.Rcode())
	j.b = append(j.b, '"')

	if len(m.Questions) > 0 {
		j.openArray("queries")
		for i := range m.Questions {
			q := &m.Questions[i]
			j.openObjectElem()
			j.bytes("rrname", q.Name)
			e.rrtype(q.Type)
			j.closeObject()
		}
		j.closeArray()
	}

	if len(m.Answers) > 0 {
		formats := e.cfg.DNSFormats
		if formats == 0 {
			formats = DNSDetailed | DNSGrouped
		}
		if formats&DNSDetailed != 0 {
			e.dnsRecords("answers", m.Answers, false)
		}
		if formats&DNSGrouped != 0 {
			e.dnsGrouped(m.Answers)
		}
	}
	if len(m.Authorities) > 0 {
		e.dnsRecords("authorities", m.Authorities, false)
	}
	if len(m.Additionals) > 0 {
		e.dnsRecords("additionals", m.Additionals, true)
	}
	j.closeObject()
}

var dnsFlagKeys = [...]struct {
	bit uint16
	key string
}{
	{dns.FlagQR, "qr"}, {dns.FlagAA, "aa"}, {dns.FlagTC, "tc"},
	{dns.FlagRD, "rd"}, {dns.FlagRA, "ra"}, {dns.FlagZ, "z"},
}

// rrtype writes "rrtype": the type's mnemonic or its number as a string.
func (e *EVE) rrtype(t uint16) {
	j := &e.s.j
	j.key("rrtype")
	j.b = append(j.b, '"')
	j.b = dns.AppendRRType(j.b, t)
	j.b = append(j.b, '"')
}

// dnsRecords writes an array of records in the detailed form; with
// skipEmptyOPT, OPT records without options are left out and an array
// left empty is not written.
func (e *EVE) dnsRecords(key string, rs []dns.Record, skipEmptyOPT bool) {
	j := &e.s.j
	open := false
	for i := range rs {
		r := &rs[i]
		if skipEmptyOPT && r.Type == dns.TypeOPT && len(r.Data) == 0 {
			continue
		}
		if !open {
			j.openArray(key)
			open = true
		}
		e.dnsRecord(r)
	}
	if open {
		j.closeArray()
	}
}

// dnsRecord writes one record as an element of the open array.
func (e *EVE) dnsRecord(r *dns.Record) {
	j := &e.s.j
	j.openObjectElem()
	j.bytes("rrname", r.Name)
	e.rrtype(r.Type)
	j.uint("ttl", uint64(r.TTL))
	switch r.Type {
	case dns.TypeSOA:
		j.key("soa")
		e.soa(r)
	case dns.TypeSRV:
		j.key("srv")
		e.srv(r)
	case typeSSHFP:
		if len(r.Data) >= 2 {
			j.key("sshfp")
			e.sshfp(r.Data)
		}
	case dns.TypeOPT:
		j.openArray("opt")
		data := r.Data
		for len(data) >= 4 {
			code := uint64(data[0])<<8 | uint64(data[1])
			n := int(data[2])<<8 | int(data[3])
			if n > len(data)-4 {
				break
			}
			j.openObjectElem()
			j.uint("code", code)
			j.key("data")
			j.b = append(j.b, '"')
			j.b = appendHex(j.b, data[4:4+n])
			j.b = append(j.b, '"')
			j.closeObject()
			data = data[4+n:]
		}
		j.closeArray()
	default:
		e.scratch = e.scratch[:0]
		var ok bool
		if e.scratch, ok = dns.AppendRData(e.scratch, r); ok {
			// AppendRData's text is valid UTF-8 (it turned invalid bytes
			// into \xNN), so JSON escaping is all that is left.
			j.bytes("rdata", e.scratch)
		}
	}
	j.closeObject()
}

// typeSSHFP is the SSHFP rrtype, which Suricata logs as an object.
const typeSSHFP uint16 = 44

// soa writes an SOA record's object as the value of the key just written.
func (e *EVE) soa(r *dns.Record) {
	j := &e.s.j
	j.b = append(j.b, '{')
	j.bytes("mname", r.Target)
	j.bytes("rname", r.RName)
	j.uint("serial", uint64(r.Serial))
	j.uint("refresh", uint64(r.Refresh))
	j.uint("retry", uint64(r.Retry))
	j.uint("expire", uint64(r.Expire))
	j.uint("minimum", uint64(r.Minimum))
	j.closeObject()
}

// srv writes an SRV record's object as the value of the key just written.
func (e *EVE) srv(r *dns.Record) {
	j := &e.s.j
	j.b = append(j.b, '{')
	j.uint("priority", uint64(r.Pref))
	j.uint("weight", uint64(r.Weight))
	j.uint("port", uint64(r.Port))
	j.bytes("name", r.Target)
	j.closeObject()
}

// sshfp writes an SSHFP rdata (algorithm, type, fingerprint) as Suricata's
// object {fingerprint "aa:bb:...", algo, type}.
func (e *EVE) sshfp(data []byte) {
	j := &e.s.j
	j.b = append(j.b, '{')
	j.key("fingerprint")
	j.b = append(j.b, '"')
	for i, c := range data[2:] {
		if i > 0 {
			j.b = append(j.b, ':')
		}
		j.b = append(j.b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	j.b = append(j.b, '"')
	j.uint("algo", uint64(data[0]))
	j.uint("type", uint64(data[1]))
	j.closeObject()
}

// groupable reports whether Suricata lists records of type t in
// "grouped".
func groupable(t uint16) bool {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeNS, dns.TypePTR,
		dns.TypeTXT, dns.TypeNULL, dns.TypeSOA, dns.TypeSRV, typeSSHFP:
		return true
	}
	return false
}

// dnsGrouped writes "grouped": per rrtype, in the order the types first
// appear, the data of the answers of that type.
func (e *EVE) dnsGrouped(rs []dns.Record) {
	j := &e.s.j
	j.openObject("grouped")
	for i := range rs {
		t := rs[i].Type
		if !groupable(t) || (t == typeSSHFP && len(rs[i].Data) < 2) {
			continue
		}
		seen := false
		for k := 0; k < i; k++ {
			if rs[k].Type == t && (t != typeSSHFP || len(rs[k].Data) >= 2) {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		j.sep()
		j.b = append(j.b, '"')
		j.b = dns.AppendRRType(j.b, t)
		j.b = append(j.b, '"', ':', '[')
		for k := i; k < len(rs); k++ {
			r := &rs[k]
			if r.Type != t {
				continue
			}
			switch t {
			case dns.TypeSOA:
				j.sep()
				e.soa(r)
			case dns.TypeSRV:
				j.sep()
				e.srv(r)
			case typeSSHFP:
				if len(r.Data) >= 2 {
					j.sep()
					e.sshfp(r.Data)
				}
			default:
				e.scratch = e.scratch[:0]
				e.scratch, _ = dns.AppendRData(e.scratch, r)
				j.appendBytesElem(e.scratch)
			}
		}
		j.closeArray()
	}
	j.closeObject()
}

// appendHex appends v as lower-case hex digits.
func appendHex(b, v []byte) []byte {
	for _, c := range v {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}
