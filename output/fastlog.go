package output

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/vigil-ids/vigil/dataplane/packet"
)

// FastLog writes alerts in Suricata's fast.log format, one line each:
//
//	11/24/2009-21:26:03.604227  [**] [1:2100498:7] GPL ATTACK_RESPONSE id check returned root [**] [Classification: Potentially Bad Traffic] [Priority: 2] {TCP} 1.2.3.4:80 -> 5.6.6.7:1234
//
// It is used by one goroutine.
type FastLog struct {
	s   lineSink
	loc *time.Location
	ips bool
}

// NewFastLog returns a fast.log writer that writes to w. Lines are
// buffered: call Flush to hand them to w. Close flushes but does not
// close w. Times are in the process's local zone (see SetLocation).
func NewFastLog(w io.Writer) *FastLog {
	f := &FastLog{loc: time.Local}
	f.s.init(w, "fast.log", "", 0)
	return f
}

// OpenFastLog opens path for appending, creating it if it does not exist,
// and returns a fast.log writer for it. Close flushes and closes the file.
func OpenFastLog(path string) (*FastLog, error) {
	file, err := openAppend(path, "fast.log")
	if err != nil {
		return nil, err
	}
	f := NewFastLog(file)
	f.s.c = file
	f.s.target = path
	return f, nil
}

// SetLocation sets the time zone of the timestamps (nil: time.Local).
func (f *FastLog) SetLocation(loc *time.Location) {
	if loc == nil {
		loc = time.Local
	}
	f.loc = loc
}

// SetIPS tells the writer whether the engine runs inline: an alert of a
// dropping rule is then marked "[Drop] ", otherwise "[wDrop] " (it would
// have dropped).
func (f *FastLog) SetIPS(ips bool) { f.ips = ips }

// Flush writes the buffered lines.
func (f *FastLog) Flush() error {
	if f.s.closed {
		return ErrClosed
	}
	return f.s.flush()
}

// Close flushes the buffered lines and, for a writer from OpenFastLog,
// closes the file. Later calls of the writer's methods return ErrClosed.
func (f *FastLog) Close() error { return f.s.close() }

// Lost returns how many lines were dropped because writing them failed.
func (f *FastLog) Lost() uint64 { return f.s.lost }

var errNilFastAlert = errors.New("output: fast.log: alert: nil packet or alert info")

// Alert writes the line for one alert on packet p.
//
// For an IP packet the line ends with "{proto} src:sport -> dst:dport",
// where proto is the protocol's name (PROTO:NNN when it has none), the
// ports are the ICMP type and code for ICMP and ICMPv6, and IPv6 addresses
// are written in full. For a packet without an IP layer the line ends with
// "[**] [Raw pkt: ...]", the first 32 bytes of the frame in hex, and the
// packet's number in its capture when it has one. A rule without a
// classtype shows "[Classification: (null)]", as Suricata prints it.
func (f *FastLog) Alert(p *packet.Packet, a *AlertInfo) error {
	if f.s.closed {
		return ErrClosed
	}
	if p == nil || a == nil {
		return errNilFastAlert
	}
	b := f.s.j.b
	b = appendFastTime(b, p.TimeNs, f.loc)
	b = append(b, ' ', ' ')
	if a.Drop {
		if f.ips {
			b = append(b, "[Drop] "...)
		} else {
			b = append(b, "[wDrop] "...)
		}
	}
	b = append(b, "[**] ["...)
	b = strconv.AppendUint(b, uint64(a.GID), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(a.SID), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(a.Rev), 10)
	b = append(b, "] "...)
	b = append(b, a.Signature...)
	b = append(b, " [**] [Classification: "...)
	if a.Category == "" {
		b = append(b, "(null)"...)
	} else {
		b = append(b, a.Category...)
	}
	b = append(b, "] [Priority: "...)
	b = strconv.AppendInt(b, int64(a.Severity), 10)
	b = append(b, ']')

	if p.IsIP() {
		proto := p.IPProto
		b = append(b, " {"...)
		if name := protoName(proto); name != "" {
			b = append(b, name...)
		} else {
			b = append(b, "PROTO:"...)
			b = appendPadded(b, int(proto), 3)
		}
		b = append(b, "} "...)
		var sp, dp uint16
		switch {
		case proto == packet.ProtoICMP || proto == packet.ProtoICMPv6:
			sp, dp = uint16(p.ICMPType), uint16(p.ICMPCode)
		case hasPorts(proto):
			sp, dp = p.SrcPort, p.DstPort
		}
		b = appendIP(b, p.SrcIP)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(sp), 10)
		b = append(b, " -> "...)
		b = appendIP(b, p.DstIP)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(dp), 10)
	} else {
		b = append(b, " [**] [Raw pkt: "...)
		raw := p.Data
		if len(raw) > 32 {
			raw = raw[:32]
		}
		for _, c := range raw {
			b = append(b, upperHex[c>>4], upperHex[c&0xf], ' ')
		}
		b = append(b, ']')
		if p.Num != 0 {
			b = append(b, " [pcap file packet: "...)
			b = strconv.AppendUint(b, p.Num, 10)
			b = append(b, ']')
		}
	}
	b = append(b, '\n')
	f.s.j.b = b
	return f.s.endRecord()
}

const upperHex = "0123456789ABCDEF"
