package dns

import (
	"strconv"
	"unicode/utf8"
)

// Formatting helpers for the EVE dns record (see the package doc). They
// append to dst and allocate only when dst must grow.

var rrtypeNames = map[uint16]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG",
	9: "MR", 10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO",
	15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT",
	22: "NSAP", 23: "NSAPPTR", 24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS",
	28: "AAAA", 29: "LOC", 30: "NXT", 33: "SRV", 34: "ATMA", 35: "NAPTR",
	36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 41: "OPT", 42: "APL", 43: "DS",
	44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
	49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 55: "HIP",
	59: "CDS", 60: "CDNSKEY", 64: "SVCB", 65: "HTTPS", 99: "SPF", 249: "TKEY",
	250: "TSIG", 253: "MAILA", 255: "ANY", 256: "URI",
}

// RRTypeName returns the mnemonic of an rrtype ("AAAA"), or "" when the
// type has none.
func RRTypeName(t uint16) string { return rrtypeNames[t] }

// AppendRRType appends the rrtype as EVE writes it: the mnemonic, or the
// decimal number.
func AppendRRType(dst []byte, t uint16) []byte {
	if n, ok := rrtypeNames[t]; ok {
		return append(dst, n...)
	}
	return strconv.AppendUint(dst, uint64(t), 10)
}

var rcodeNames = [...]string{
	0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
	5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
	10: "NOTZONE",
}

// AppendRcode appends the header rcode as EVE writes it ("NXDOMAIN", or
// the number when unnamed).
func AppendRcode(dst []byte, rcode uint8) []byte {
	if int(rcode) < len(rcodeNames) {
		return append(dst, rcodeNames[rcode]...)
	}
	return strconv.AppendUint(dst, uint64(rcode), 10)
}

// AppendFlags appends the header flags as lower-case hex without padding
// ("8180").
func AppendFlags(dst []byte, flags uint16) []byte {
	return strconv.AppendUint(dst, uint64(flags), 16)
}

const hexDigits = "0123456789abcdef"

// AppendEVEString appends b as Suricata's JSON builder renders bytes
// before JSON escaping: unchanged when b is valid UTF-8, otherwise every
// byte >= 0x80 as the four characters \xNN.
func AppendEVEString(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for _, c := range b {
		if c < 0x80 {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// AppendRData appends the "rdata" string of r and reports whether the
// record type has one: the address for A and AAAA, the target name for
// CNAME, PTR, NS and MX, the string for TXT and the raw bytes for NULL
// (names and strings through AppendEVEString). SOA and SRV are logged as
// objects from the Record fields, other types without rdata.
func AppendRData(dst []byte, r *Record) ([]byte, bool) {
	switch r.Type {
	case TypeA, TypeAAAA:
		return AppendAddr(dst, r.Data), true
	case TypeCNAME, TypePTR, TypeNS, TypeMX:
		return AppendEVEString(dst, r.Target), true
	case TypeTXT, TypeNULL:
		return AppendEVEString(dst, r.Data), true
	}
	return dst, false
}

// AppendAddr appends an A or AAAA address as Suricata prints it: dotted
// quad, or eight groups of four lower-case hex digits; nothing for other
// lengths.
func AppendAddr(dst, a []byte) []byte {
	switch len(a) {
	case 4:
		for i, b := range a {
			if i > 0 {
				dst = append(dst, '.')
			}
			dst = strconv.AppendUint(dst, uint64(b), 10)
		}
	case 16:
		for i := 0; i < 16; i += 2 {
			if i > 0 {
				dst = append(dst, ':')
			}
			dst = append(dst, hexDigits[a[i]>>4], hexDigits[a[i]&0xf], hexDigits[a[i+1]>>4], hexDigits[a[i+1]&0xf])
		}
	}
	return dst
}
