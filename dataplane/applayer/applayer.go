// Package applayer is Vigil's application layer: it recognises the protocol
// of each TCP and UDP flow from the first bytes of its data (ports are only
// hints), feeds the flow's data to the protocol's parser (http, dns, tls
// sub-packages) and hands detection and EVE what the parsers produced.
//
// A Layer belongs to one worker, like its flow table and stream tracker.
// For TCP it is the stream tracker's Consumer: it reads each direction as
// a socket reader would, in order, with gaps reported. For UDP the pipeline
// gives it each packet (Layer.UDP).
//
// # Timing of transaction inspection
//
// As in Suricata, app-layer signatures inspect a flow's transactions on
// packets after which the app layer was updated: on the packet whose data
// was parsed (inline mode, UDP, flow end), and, when a packet acknowledged
// data of the other direction (IDS mode), on that packet and on the next
// packet of the other direction. Layer.Views returns the transactions to
// inspect on the current packet; a signature alerts at most once per
// transaction (engine.TxState).
package applayer

import (
	"strings"
	"time"
	"unsafe"

	"github.com/vigil-ids/vigil/dataplane/applayer/dns"
	"github.com/vigil-ids/vigil/dataplane/applayer/http"
	"github.com/vigil-ids/vigil/dataplane/applayer/tls"
	"github.com/vigil-ids/vigil/dataplane/flow"
	"github.com/vigil-ids/vigil/dataplane/packet"
	"github.com/vigil-ids/vigil/dataplane/stream"
	"github.com/vigil-ids/vigil/detect/engine"
)

// EncryptionPolicy is what happens to a TLS flow once its traffic is
// encrypted (Suricata's app-layer.protocols.tls.encryption-handling).
type EncryptionPolicy uint8

const (
	// EncryptionDefault keeps tracking the flow and inspecting its packets,
	// but stops app-layer parsing and raw stream inspection of the
	// encrypted data.
	EncryptionDefault EncryptionPolicy = iota
	// EncryptionBypass stops inspecting the flow altogether (Flow bypass:
	// the pipeline may hand it to the kernel).
	EncryptionBypass
	// EncryptionFull keeps inspecting everything, encrypted data included.
	EncryptionFull
)

// Config configures a Layer. The zero value enables every parser with its
// defaults.
type Config struct {
	HTTP http.Config
	TLS  tls.Options
	// NoHTTP, NoDNS and NoTLS turn a protocol's detection and parsing off
	// (app-layer.protocols.X.enabled: no).
	NoHTTP, NoDNS, NoTLS bool
	// Encryption is the policy for encrypted TLS flows.
	Encryption EncryptionPolicy
}

// Stats are a Layer's counters.
type Stats struct {
	Flows        uint64 // flows that got app-layer state
	Detected     [flow.AppProtoFailed + 1]uint64
	HTTPTxs      uint64 // HTTP transactions completed
	DNSMessages  uint64
	DNSErrors    uint64 // DNS messages that did not parse
	TLSHandshake uint64 // TLS flows whose handshake was seen
	Gaps         uint64 // stream gaps given to parsers
	Encrypted    uint64 // TLS flows that went encrypted
	ViewsDropped uint64 // transactions not inspected on a packet (more than MaxViews)
}

// MaxViews bounds the transactions inspected on one packet.
const MaxViews = 32

// Layer is one worker's application layer.
type Layer struct {
	cfg    Config
	states []*flowState // handle-1 → state
	free   []uint32

	// cur is the flow of the packet being processed (Begin).
	cur *flow.Flow

	views    []View
	viewPtrs []*View
	nviews   int
	recs     []Record
	gapBuf   []byte
	// dnsTCP holds copies of the messages the TCP DNS handler received
	// during the current packet (the parser reuses its message and its
	// bytes point into stream data valid only during the Feed); dnsArena
	// backs their byte slices. Both are reset by Begin.
	dnsTCP   []dns.Message
	dnsTCPTx []uint64
	ndnsTCP  int
	dnsArena []byte

	Stats Stats
}

// New returns a Layer.
func New(cfg Config) *Layer {
	return &Layer{cfg: cfg, views: make([]View, MaxViews), viewPtrs: make([]*View, 0, MaxViews), gapBuf: make([]byte, 64<<10)}
}

// RecordKind says what a Record holds.
type RecordKind uint8

const (
	RecordHTTP RecordKind = iota + 1
	RecordDNS
	RecordTLS
	// RecordAnomaly is a parser event of a transaction (EVE anomaly,
	// type applayer): Event names it as Suricata's EVE does, TxID/HasTx
	// say which transaction.
	RecordAnomaly
)

// Record is an app-layer event for EVE (an http, dns or tls record). Its
// pointers are valid until the next call on the Layer.
type Record struct {
	Kind RecordKind
	Flow *flow.Flow
	HTTP *http.Tx
	DNS  *dns.Message
	TLS  *tls.Parser
	TxID uint64
	// Anomaly records: the event's name, the protocol, whether it
	// belongs to a transaction.
	Event string
	Proto flow.AppProto
	HasTx bool
}

// flowState is the app-layer state of one flow.
type flowState struct {
	proto  flow.AppProto
	probed [2]probeResult
	done   [2]bool // direction detection finished (found or failed)

	http *http.Parser
	htx  []txMeta

	dns   *dns.Parser
	dnsTx uint64

	tls       *tls.Parser
	tlsTS     engine.TxState
	tlsLogged bool
	encrypted bool

	// upd[d]: data of direction d was parsed during the current packet.
	upd [2]bool
	// next[d]: inspect transactions on the next packet of direction d.
	next [2]bool
	// trig[d]: the parser of direction d reached a point where raw
	// stream inspection should not wait for a full chunk (RawTrigger).
	trig [2]bool
	// udp holds the message parsed from the current UDP packet.
	udpMsg *dns.Message
	// dnsNext[d] holds copies of DNS-over-TCP messages of direction d
	// that were parsed on a packet of the other direction (IDS: the
	// packet that acknowledged them): they are inspected again on the
	// next packet of direction d, where signatures of that direction
	// (dns.query is to-server) can match them.
	dnsNext [2]keptDNS
}

// keptDNS is a flow's copy of DNS messages waiting for a packet of their
// direction. Its slices are reused for the flow state's life.
type keptDNS struct {
	msgs  []dns.Message
	txs   []uint64
	n     int
	arena []byte
}

// txMeta is the layer's bookkeeping of one HTTP transaction.
type txMeta struct {
	id        uint64
	ts        engine.TxState
	logged    bool
	inspected [2]bool // inspected on a packet of that direction after it completed
}

// View is one transaction as detection sees it: an engine.AppState (the
// buffers and fields of the transaction for the packet's direction) and
// what EVE needs to describe it in an alert.
type View struct {
	engine.BufferSet
	ts    *engine.TxState
	Proto flow.AppProto
	TxID  uint64
	HasTx bool
	HTTP  *http.Tx
	DNS   *dns.Message
	TLS   *tls.Parser

	scratch []byte // backing of composed buffers (http.request_header)
}

// TxState implements engine.TxStater.
func (v *View) TxState() *engine.TxState { return v.ts }

func (l *Layer) state(f *flow.Flow) *flowState {
	if f.AppState != 0 {
		return l.states[f.AppState-1]
	}
	var h uint32
	if n := len(l.free); n > 0 {
		h = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		l.states = append(l.states, &flowState{})
		h = uint32(len(l.states))
	}
	f.AppState = h
	l.Stats.Flows++
	return l.states[h-1]
}

func (l *Layer) peek(f *flow.Flow) *flowState {
	if f == nil || f.AppState == 0 || int(f.AppState) > len(l.states) {
		return nil
	}
	return l.states[f.AppState-1]
}

// Begin starts the processing of packet p of flow f: the stream tracker's
// callbacks that follow belong to it. It also clears the records of the
// previous packet.
func (l *Layer) Begin(p *packet.Packet, f *flow.Flow) {
	l.cur = f
	l.recs = l.recs[:0]
	l.ndnsTCP = 0
	l.dnsArena = l.dnsArena[:0]
	if st := l.peek(f); st != nil {
		st.upd = [2]bool{}
		st.udpMsg = nil
	}
}

// dirOf returns the direction of p in its flow (0 to server, 1 to client).
func dirOf(p *packet.Packet) int {
	if p.Flags&packet.FlagToClient != 0 {
		return 1
	}
	return 0
}

// Data implements stream.Consumer.
func (l *Layer) Data(s *stream.Session, dir stream.Dir, data []byte) int {
	f := l.cur
	if f == nil {
		return len(data)
	}
	st := l.state(f)
	d := int(dir) & 1
	if st.proto == flow.AppProtoUnknown {
		if st.done[d] {
			return len(data)
		}
		proto, r := probe(data, true, f.Key.SrcPort, f.Key.DstPort)
		switch r {
		case probeNeedMore:
			return 0
		case probeFailed:
			st.done[d] = true
			if st.done[d^1] {
				l.setProto(st, f, flow.AppProtoFailed)
			}
			return len(data)
		}
		st.done[d] = true
		if !l.enabled(proto) {
			l.setProto(st, f, flow.AppProtoFailed)
			return len(data)
		}
		l.setProto(st, f, proto)
	}
	st.done[d] = true
	return l.feed(st, f, d, data, false)
}

// Gap implements stream.Consumer.
func (l *Layer) Gap(s *stream.Session, dir stream.Dir, n uint32) {
	f := l.cur
	if f == nil {
		return
	}
	st := l.state(f)
	l.Stats.Gaps++
	d := int(dir) & 1
	if st.proto == flow.AppProtoUnknown {
		// Detection cannot go on over a hole.
		st.done[d] = true
		if st.done[d^1] {
			l.setProto(st, f, flow.AppProtoFailed)
		}
		return
	}
	for n > 0 {
		k := min(int(n), len(l.gapBuf))
		l.feed(st, f, d, l.gapBuf[:k], true)
		n -= uint32(k)
	}
}

func (l *Layer) enabled(p flow.AppProto) bool {
	switch p {
	case flow.AppProtoHTTP1:
		return !l.cfg.NoHTTP
	case flow.AppProtoDNS:
		return !l.cfg.NoDNS
	case flow.AppProtoTLS:
		return !l.cfg.NoTLS
	}
	return false
}

func (l *Layer) setProto(st *flowState, f *flow.Flow, p flow.AppProto) {
	st.proto = p
	f.AppProto = p
	l.Stats.Detected[p]++
	switch p {
	case flow.AppProtoHTTP1:
		if st.http == nil {
			st.http = http.AcquireParser(&l.cfg.HTTP)
		}
		st.http.ServerPort = int(f.Key.DstPort)
	case flow.AppProtoTLS:
		if st.tls == nil {
			st.tls = tls.NewParser(l.cfg.TLS)
		}
	case flow.AppProtoDNS:
		if st.dns == nil {
			st.dns = dns.NewParser(l)
		}
	}
}

// DNSMessage implements dns.Handler for DNS over TCP.
func (l *Layer) DNSMessage(dir dns.Direction, m *dns.Message, err error) {
	if err != nil || m == nil {
		l.Stats.DNSErrors++
		return
	}
	l.Stats.DNSMessages++
	st := l.peek(l.cur)
	if st == nil {
		return
	}
	m = l.keepDNS(m)
	l.dnsTCPTx = append(l.dnsTCPTx[:l.ndnsTCP-1], st.dnsTx)
	st.udpMsg = m
	l.recs = append(l.recs, Record{Kind: RecordDNS, Flow: l.cur, DNS: m, TxID: st.dnsTx})
	l.dnsAnomalies(l.cur, m, st.dnsTx)
	if m.Response() {
		st.dnsTx++
	}
}

// feed gives data of direction d to the flow's parser.
func (l *Layer) feed(st *flowState, f *flow.Flow, d int, data []byte, gap bool) int {
	st.upd[d] = true
	switch st.proto {
	case flow.AppProtoHTTP1:
		n := st.http.Feed(http.Dir(d), data, gap)
		if txs := st.http.Txs(); len(txs) > 0 {
			last := txs[len(txs)-1]
			m := &last.Request
			if d == 1 {
				m = &last.Response
			}
			// A message's headers are in: raw stream inspection may look
			// at what arrived so far (Suricata's raw reassembly trigger).
			if m.HeadersDone() {
				st.trig[d] = true
			}
		}
		if n < len(data) {
			// The connection stopped being HTTP (CONNECT, upgrade): the
			// rest is not parsed.
			return len(data)
		}
		return n
	case flow.AppProtoTLS:
		if gap || st.encrypted && l.cfg.Encryption != EncryptionFull {
			return len(data)
		}
		n := st.tls.Feed(tls.Direction(d), data)
		st.trig[d] = true
		if st.tls.Encrypted() && !st.encrypted {
			st.encrypted = true
			l.Stats.Encrypted++
		}
		if n < len(data) {
			return len(data)
		}
		return n
	case flow.AppProtoDNS:
		if gap {
			return len(data)
		}
		st.trig[d] = true
		return st.dns.Feed(dns.Direction(d), data)
	}
	return len(data)
}

// UDP runs the app layer on one UDP packet of flow f (after Begin).
func (l *Layer) UDP(p *packet.Packet, f *flow.Flow) {
	if f == nil || p.Flags&packet.FlagUDP == 0 {
		return
	}
	pl := p.Payload()
	if len(pl) == 0 {
		return
	}
	if f.AppProto == flow.AppProtoFailed || (f.AppProto != flow.AppProtoUnknown && f.AppProto != flow.AppProtoDNS) {
		return
	}
	if f.AppProto == flow.AppProtoUnknown {
		if l.cfg.NoDNS || !probeDNSUDP(pl, p.SrcPort, p.DstPort) {
			st := l.state(f)
			d := dirOf(p)
			st.done[d] = true
			if st.done[d^1] || len(pl) > 512 {
				l.setProto(st, f, flow.AppProtoFailed)
			}
			return
		}
		l.setProto(l.state(f), f, flow.AppProtoDNS)
	}
	st := l.state(f)
	d := dirOf(p)
	st.upd[d] = true
	m, err := st.dns.ParseUDP(dns.Direction(d), pl)
	if err != nil || m == nil {
		l.Stats.DNSErrors++
		if m == nil {
			return
		}
	}
	l.Stats.DNSMessages++
	st.udpMsg = m
	l.recs = append(l.recs, Record{Kind: RecordDNS, Flow: f, DNS: m, TxID: st.dnsTx})
	l.dnsAnomalies(f, m, st.dnsTx)
	if m.Response() {
		st.dnsTx++
	}
}

// Encrypted reports whether f is a TLS flow whose traffic is now
// encrypted and the policy says its raw stream is no longer inspected.
func (l *Layer) Encrypted(f *flow.Flow) (encrypted bool, policy EncryptionPolicy) {
	st := l.peek(f)
	if st == nil || !st.encrypted {
		return false, l.cfg.Encryption
	}
	return true, l.cfg.Encryption
}

// Views returns the transactions of p's flow that detection inspects on
// p (see the package doc), each ready as an engine.AppState for p's
// direction, and marks the records of transactions that completed. The
// slice is valid until the next call.
func (l *Layer) Views(p *packet.Packet, f *flow.Flow) []*View {
	st := l.peek(f)
	out := l.viewPtrs[:0]
	if st == nil {
		l.viewPtrs = out
		return out
	}
	d := dirOf(p)
	pseudo := p.Flags&packet.FlagPseudo != 0
	inspect := st.upd[d] || st.next[d] || pseudo
	if st.upd[d^1] {
		// Data of the other direction was parsed on this packet (IDS:
		// p acknowledged it): inspect now and on the next packet of
		// that direction.
		inspect = true
		st.next[d^1] = true
	}
	st.next[d] = false
	l.nviews = 0
	if !inspect {
		l.collectRecords(st, f, false)
		l.viewPtrs = out
		return out
	}
	switch st.proto {
	case flow.AppProtoHTTP1:
		out = l.httpViews(st, p, d, out)
	case flow.AppProtoTLS:
		if v := l.view(); v != nil && st.tls != nil {
			fillTLS(v, st, p.TimeNs)
			out = append(out, v)
		}
	case flow.AppProtoDNS:
		if k := &st.dnsNext[d]; k.n > 0 {
			// Messages of this direction parsed on an earlier packet of
			// the other direction.
			for i := 0; i < k.n; i++ {
				if v := l.view(); v != nil {
					fillDNS(v, &k.msgs[i], k.txs[i])
					out = append(out, v)
				}
			}
			k.n = 0
			k.arena = k.arena[:0]
		}
		if l.ndnsTCP > 0 {
			// Every message of this packet's TCP data, in order.
			for i := 0; i < l.ndnsTCP; i++ {
				m := &l.dnsTCP[i]
				if v := l.view(); v != nil {
					fillDNS(v, m, l.dnsTCPTx[i])
					out = append(out, v)
				}
				if md := dnsDir(m); md != d {
					st.dnsNext[md].add(m, l.dnsTCPTx[i])
				}
			}
		} else if st.udpMsg != nil {
			if v := l.view(); v != nil {
				fillDNS(v, st.udpMsg, st.dnsTx)
				out = append(out, v)
			}
		}
	}
	l.collectRecords(st, f, false)
	l.viewPtrs = out
	return out
}

func (l *Layer) view() *View {
	if l.nviews >= len(l.views) {
		l.Stats.ViewsDropped++
		return nil
	}
	v := &l.views[l.nviews]
	l.nviews++
	v.Reset()
	v.ts, v.HTTP, v.DNS, v.TLS, v.HasTx, v.TxID = nil, nil, nil, nil, false, 0
	v.scratch = v.scratch[:0]
	return v
}

// httpViews adds a view per live transaction of the flow and retires the
// transactions that are complete and were inspected both ways.
func (l *Layer) httpViews(st *flowState, p *packet.Packet, d int, out []*View) []*View {
	if st.http == nil {
		return out
	}
	txs := st.http.Txs()
	for i, tx := range txs {
		m := st.meta(tx.ID)
		v := l.view()
		if v == nil {
			// view counted this one; count the rest too.
			l.Stats.ViewsDropped += uint64(len(txs) - i - 1)
			break
		}
		fillHTTP(v, tx, d)
		v.ts = &m.ts
		out = append(out, v)
		if tx.Complete() {
			m.inspected[d] = true
		}
	}
	return out
}

func (st *flowState) meta(id uint64) *txMeta {
	for i := range st.htx {
		if st.htx[i].id == id {
			return &st.htx[i]
		}
	}
	st.htx = append(st.htx, txMeta{id: id})
	m := &st.htx[len(st.htx)-1]
	m.ts.Reset()
	m.logged, m.inspected = false, [2]bool{}
	return m
}

// collectRecords queues the EVE records of what completed: HTTP
// transactions (and retires those inspected both ways), the TLS handshake.
// final: the flow ends, log everything that is left.
func (l *Layer) collectRecords(st *flowState, f *flow.Flow, final bool) {
	switch st.proto {
	case flow.AppProtoHTTP1:
		if st.http == nil {
			return
		}
		for _, tx := range st.http.Txs() {
			m := st.meta(tx.ID)
			if !m.logged && (tx.Complete() || final && tx.Request.Started()) {
				m.logged = true
				l.Stats.HTTPTxs++
				l.recs = append(l.recs, Record{Kind: RecordHTTP, Flow: f, HTTP: tx, TxID: tx.ID})
				for e := http.Event(0); e < http.NumEvents; e++ {
					if tx.Events.Has(e) {
						l.recs = append(l.recs, Record{Kind: RecordAnomaly, Flow: f, Proto: flow.AppProtoHTTP1,
							Event: upperEventNames.http[e], TxID: tx.ID, HasTx: true})
					}
				}
			}
		}
	case flow.AppProtoTLS:
		if st.tls == nil || st.tlsLogged {
			return
		}
		ch, sh := &st.tls.ClientHello, &st.tls.ServerHello
		if (ch.Present && sh.Present && (len(st.tls.Certificates) > 0 || st.encrypted)) || (final && ch.Present) {
			st.tlsLogged = true
			l.Stats.TLSHandshake++
			l.recs = append(l.recs, Record{Kind: RecordTLS, Flow: f, TLS: st.tls})
			for e := tls.Event(0); e < 32; e++ {
				if st.tls.Events&(1<<e) != 0 {
					l.recs = append(l.recs, Record{Kind: RecordAnomaly, Flow: f, Proto: flow.AppProtoTLS,
						Event: upperEventNames.tls[e], HasTx: true})
				}
			}
		}
	}
}

// retire recycles the HTTP transactions that are complete, logged and
// were inspected in both directions (all of them when final).
func (l *Layer) retire(st *flowState, final bool) {
	if st.http == nil {
		return
	}
	for {
		txs := st.http.Txs()
		if len(txs) == 0 {
			return
		}
		tx := txs[0]
		m := st.meta(tx.ID)
		if !final && !(tx.Complete() && m.logged && m.inspected[0] && m.inspected[1]) {
			return
		}
		popped := st.http.Pop()
		if popped == nil {
			if !final {
				return
			}
			// Incomplete at flow end: the parser is reset with the flow.
			st.htx = st.htx[:0]
			return
		}
		st.http.Recycle(popped)
		for i := range st.htx {
			if st.htx[i].id == m.id {
				st.htx = append(st.htx[:i], st.htx[i+1:]...)
				break
			}
		}
	}
}

// Records returns the EVE records produced by the current packet (valid
// until the next Begin), after Views or FlowEnd.
func (l *Layer) Records() []Record { return l.recs }

// Done ends the processing of the current packet: transactions that are
// finished are recycled. Call it after the records were written.
func (l *Layer) Done(f *flow.Flow) {
	if st := l.peek(f); st != nil {
		l.retire(st, false)
	}
}

// FlowEnding prepares the records of a flow that ends (after the tracker's
// FlowEnd delivered its last data and the pseudo packets were inspected):
// everything not yet logged is queued. Call Records to write them, then
// Release.
func (l *Layer) FlowEnding(f *flow.Flow) {
	l.recs = l.recs[:0]
	if st := l.peek(f); st != nil {
		l.collectRecords(st, f, true)
	}
}

// Release frees the app-layer state of f (its flow ended).
func (l *Layer) Release(f *flow.Flow) {
	st := l.peek(f)
	if st == nil {
		return
	}
	h := f.AppState
	f.AppState = 0
	if st.http != nil {
		for {
			tx := st.http.Pop()
			if tx == nil {
				break
			}
			st.http.Recycle(tx)
		}
		http.ReleaseParser(st.http)
	}
	if st.tls != nil {
		st.tls.Reset()
	}
	if st.dns != nil {
		st.dns.Reset()
	}
	next := st.dnsNext
	for i := range next {
		next[i].n, next[i].arena = 0, next[i].arena[:0]
	}
	*st = flowState{tls: st.tls, dns: st.dns, htx: st.htx[:0], dnsNext: next}
	l.free = append(l.free, h)
	if l.cur == f {
		l.cur = nil
	}
}

// Pending reports whether f has app-layer state (a detected protocol) that
// flow-end pseudo packets should inspect.
func (l *Layer) Pending(f *flow.Flow) bool {
	st := l.peek(f)
	return st != nil && st.proto != flow.AppProtoUnknown && st.proto != flow.AppProtoFailed
}

// ---- buffers

var (
	bufHTTP struct {
		uri, uriRaw, method, protocol, requestLine, host, hostRaw, userAgent,
		header, headerRaw, headerNames, cookie, contentType, contentLen, referer,
		accept, acceptEnc, acceptLang, connection, start, requestBody,
		statCode, statMsg, responseLine, server, location, fileData,
		requestHeader, responseHeader engine.BufferID
	}
	bufDNS struct {
		query, queryName, queriesRRName, answersRRName, authRRName, addRRName,
		answerName, responseRRName engine.BufferID
	}
	bufTLS struct {
		sni, subject, issuer, serial, fingerprint, certs, alpn,
		ja3Hash, ja3String, ja3sHash, ja3sString, ja4Hash engine.BufferID
	}
)

func mustBuf(name string) engine.BufferID {
	id, ok := engine.LookupBuffer(name)
	if !ok {
		panic("applayer: engine has no buffer " + name)
	}
	return id
}

func init() {
	h := &bufHTTP
	h.uri, h.uriRaw, h.method = mustBuf("http.uri"), mustBuf("http.uri.raw"), mustBuf("http.method")
	h.protocol, h.requestLine = mustBuf("http.protocol"), mustBuf("http.request_line")
	h.host, h.hostRaw, h.userAgent = mustBuf("http.host"), mustBuf("http.host.raw"), mustBuf("http.user_agent")
	h.header, h.headerRaw, h.headerNames = mustBuf("http.header"), mustBuf("http.header.raw"), mustBuf("http.header_names")
	h.cookie, h.contentType, h.contentLen = mustBuf("http.cookie"), mustBuf("http.content_type"), mustBuf("http.content_len")
	h.referer, h.accept, h.acceptEnc, h.acceptLang = mustBuf("http.referer"), mustBuf("http.accept"), mustBuf("http.accept_enc"), mustBuf("http.accept_lang")
	h.connection, h.start, h.requestBody = mustBuf("http.connection"), mustBuf("http.start"), mustBuf("http.request_body")
	h.statCode, h.statMsg, h.responseLine = mustBuf("http.stat_code"), mustBuf("http.stat_msg"), mustBuf("http.response_line")
	h.server, h.location, h.fileData = mustBuf("http.server"), mustBuf("http.location"), mustBuf("file.data")
	h.requestHeader, h.responseHeader = mustBuf("http.request_header"), mustBuf("http.response_header")
	d := &bufDNS
	d.query, d.queryName, d.queriesRRName = mustBuf("dns.query"), mustBuf("dns.query.name"), mustBuf("dns.queries.rrname")
	d.answersRRName, d.authRRName, d.addRRName = mustBuf("dns.answers.rrname"), mustBuf("dns.authorities.rrname"), mustBuf("dns.additionals.rrname")
	d.answerName, d.responseRRName = mustBuf("dns.answer.name"), mustBuf("dns.response.rrname")
	t := &bufTLS
	t.sni, t.subject, t.issuer = mustBuf("tls.sni"), mustBuf("tls.cert_subject"), mustBuf("tls.cert_issuer")
	t.serial, t.fingerprint, t.certs, t.alpn = mustBuf("tls.cert_serial"), mustBuf("tls.cert_fingerprint"), mustBuf("tls.certs"), mustBuf("tls.alpn")
	t.ja3Hash, t.ja3String = mustBuf("ja3.hash"), mustBuf("ja3.string")
	t.ja3sHash, t.ja3sString, t.ja4Hash = mustBuf("ja3s.hash"), mustBuf("ja3s.string"), mustBuf("ja4.hash")
}

func add(v *View, id engine.BufferID, b []byte) {
	if b != nil {
		v.Add(id, b)
	}
}

// fillHTTP fills v with what transaction tx has so far, for detection on a
// packet of direction d: request buffers once the request line (and the
// headers) are parsed, bodies once complete, response buffers likewise;
// the buffers of both directions (http.header, http.cookie, ...) hold the
// request's on to-server packets and the response's on to-client ones.
func fillHTTP(v *View, tx *http.Tx, d int) {
	v.Proto, v.HTTP, v.TxID, v.HasTx = flow.AppProtoHTTP1, tx, tx.ID, true
	v.SetField(engine.FieldAppEvents, uint64(tx.Events))
	h := &bufHTTP
	q, r := &tx.Request, &tx.Response
	if q.Started() && len(q.Line()) > 0 {
		add(v, h.uri, tx.URI())
		add(v, h.uriRaw, tx.URIRaw())
		add(v, h.method, tx.Method())
		add(v, h.requestLine, q.Line())
		if d == 0 {
			add(v, h.protocol, q.Protocol())
		}
	}
	if q.HeadersDone() {
		add(v, h.host, tx.Host())
		add(v, h.hostRaw, tx.HostRaw())
		add(v, h.userAgent, q.Header("User-Agent"))
		add(v, h.referer, q.Header("Referer"))
		add(v, h.accept, q.Header("Accept"))
		add(v, h.acceptEnc, q.Header("Accept-Encoding"))
		add(v, h.acceptLang, q.Header("Accept-Language"))
		if d == 0 {
			addMsg(v, q, false)
			addHeaders(v, q, h.requestHeader)
		}
		if q.Complete() || q.Truncated || len(q.Body()) > 0 && tx.Response.Started() {
			add(v, h.requestBody, q.Body())
		}
	}
	if r.Started() && len(r.Line()) > 0 {
		add(v, h.statCode, tx.StatCode())
		add(v, h.statMsg, tx.StatMsg())
		add(v, h.responseLine, r.Line())
		if d == 1 {
			add(v, h.protocol, r.Protocol())
		}
	}
	if r.HeadersDone() {
		add(v, h.server, r.Header("Server"))
		add(v, h.location, r.Header("Location"))
		if d == 1 {
			addMsg(v, r, true)
			addHeaders(v, r, h.responseHeader)
		}
		if r.Complete() || r.Truncated {
			add(v, h.fileData, r.Body())
		}
	}
}

// addHeaders adds one "Name: value" instance of buffer id per header of m.
func addHeaders(v *View, m *http.Message, id engine.BufferID) {
	for i := 0; i < m.NumHeaders(); i++ {
		n, val := m.HeaderAt(i)
		st := len(v.scratch)
		v.scratch = append(v.scratch, n...)
		v.scratch = append(v.scratch, ':', ' ')
		v.scratch = append(v.scratch, val...)
		v.Add(id, v.scratch[st:len(v.scratch):len(v.scratch)])
	}
}

// addMsg adds the buffers both directions share, from message m.
func addMsg(v *View, m *http.Message, resp bool) {
	h := &bufHTTP
	add(v, h.header, m.HeaderBlock())
	add(v, h.headerRaw, m.HeaderRaw())
	add(v, h.headerNames, m.HeaderNames())
	if resp {
		add(v, h.cookie, m.Header("Set-Cookie"))
	} else {
		add(v, h.cookie, m.Header("Cookie"))
	}
	add(v, h.contentType, m.Header("Content-Type"))
	add(v, h.contentLen, m.Header("Content-Length"))
	add(v, h.connection, m.Header("Connection"))
	add(v, h.start, m.Start())
}

// fillDNS fills v with message m (the one in the current packet).
func fillDNS(v *View, m *dns.Message, txID uint64) {
	v.Proto, v.DNS, v.TxID, v.HasTx = flow.AppProtoDNS, m, txID, true
	v.SetField(engine.FieldAppEvents, uint64(m.Events))
	d := &bufDNS
	for i := range m.Questions {
		n := m.Questions[i].Name
		if !m.Response() {
			v.Add(d.query, n)
		}
		v.Add(d.queryName, n)
		v.Add(d.queriesRRName, n)
		if m.Response() {
			v.Add(d.responseRRName, n)
		}
	}
	for i := range m.Answers {
		v.Add(d.answersRRName, m.Answers[i].Name)
		v.Add(d.answerName, m.Answers[i].Name)
		v.Add(d.responseRRName, m.Answers[i].Name)
	}
	for i := range m.Authorities {
		v.Add(d.authRRName, m.Authorities[i].Name)
		v.Add(d.responseRRName, m.Authorities[i].Name)
	}
	for i := range m.Additionals {
		v.Add(d.addRRName, m.Additionals[i].Name)
		v.Add(d.responseRRName, m.Additionals[i].Name)
	}
	v.SetField(engine.FieldDNSOpcode, uint64(m.Opcode()))
	v.SetField(engine.FieldDNSRcode, uint64(m.Rcode()))
	if len(m.Questions) > 0 {
		v.SetField(engine.FieldDNSRRType, uint64(m.Questions[0].Type))
	}
}

func str(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// fillTLS fills v with the flow's handshake so far.
func fillTLS(v *View, st *flowState, nowNs int64) {
	t := st.tls
	v.Proto, v.TLS, v.HasTx, v.TxID = flow.AppProtoTLS, t, true, 0
	v.ts = &st.tlsTS
	v.SetField(engine.FieldAppEvents, uint64(t.Events))
	b := &bufTLS
	ch, sh := &t.ClientHello, &t.ServerHello
	var versions, state uint64
	if ch.Present {
		state |= 1
		add(v, b.sni, ch.SNI)
		v.Add(b.ja3Hash, ch.JA3Hash[:])
		add(v, b.ja3String, ch.JA3)
		v.Add(b.ja4Hash, ch.JA4[:])
		for _, a := range ch.ALPN {
			v.Add(b.alpn, a)
		}
		versions |= versionBit(ch.Version)
	}
	if sh.Present {
		state |= 2
		v.Add(b.ja3sHash, sh.JA3SHash[:])
		add(v, b.ja3sString, sh.JA3S)
		ver := sh.Version
		if sh.SelectedVersion != 0 {
			ver = sh.SelectedVersion
		}
		versions |= versionBit(ver)
		v.SetField(engine.FieldTLSVersion, uint64(ver))
	} else if ch.Present {
		v.SetField(engine.FieldTLSVersion, uint64(ch.Version))
	}
	if len(t.Certificates) > 0 {
		c := &t.Certificates[0]
		add(v, b.subject, str(c.Subject))
		add(v, b.issuer, str(c.Issuer))
		add(v, b.serial, str(c.Serial))
		add(v, b.fingerprint, str(c.Fingerprint))
		for i := range t.Certificates {
			v.Add(b.certs, t.Certificates[i].DER)
		}
		if c.Err == nil && !c.NotAfter.IsZero() {
			now := time.Unix(0, nowNs)
			expired := now.After(c.NotAfter)
			valid := !expired && !now.Before(c.NotBefore)
			v.SetField(engine.FieldTLSCertExpired, b2u(expired))
			v.SetField(engine.FieldTLSCertValid, b2u(valid))
		}
	}
	if versions != 0 {
		v.SetField(engine.FieldSSLVersions, versions)
	}
	if state != 0 {
		v.SetField(engine.FieldSSLState, state)
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// versionBit maps a protocol version to its ssl_version bit.
func versionBit(v uint16) uint64 {
	switch v {
	case tls.VersionSSL2:
		return 1
	case 0x0300:
		return 2
	case 0x0301:
		return 4
	case 0x0302:
		return 8
	case 0x0303:
		return 16
	case 0x0304:
		return 32
	}
	return 0
}

// dnsAnomalies queues an anomaly record per event of DNS message m.
func (l *Layer) dnsAnomalies(f *flow.Flow, m *dns.Message, txID uint64) {
	for e := dns.Event(0); e < 16; e++ {
		if m.Events&(1<<e) != 0 {
			l.recs = append(l.recs, Record{Kind: RecordAnomaly, Flow: f, Proto: flow.AppProtoDNS,
				Event: upperEventNames.dns[e], TxID: txID, HasTx: true})
		}
	}
}

// upperEventNames are the event names as Suricata's EVE anomaly records
// spell them: the C parsers' tables (http, tls) in upper case
// ("REQUEST_FIELD_TOO_LONG"), the Rust ones (dns) in snake case.
var upperEventNames struct {
	http [64]string
	tls  [32]string
	dns  [16]string
}

func init() {
	for e := http.Event(0); e < http.NumEvents; e++ {
		upperEventNames.http[e] = strings.ToUpper(strings.TrimPrefix(e.String(), "http."))
	}
	for e := tls.Event(0); e < 32; e++ {
		if n := e.String(); !strings.Contains(n, "unknown_event_") {
			upperEventNames.tls[e] = strings.ToUpper(strings.TrimPrefix(n, "tls."))
		}
	}
	for e := dns.Event(0); e < 16; e++ {
		if n := e.String(); !strings.Contains(n, "unknown_event_") {
			upperEventNames.dns[e] = strings.TrimPrefix(n, "dns.")
		}
	}
}

// RawTrigger reports (and clears) whether the parser of direction dir (0
// to server) of f asked for raw stream inspection of what arrived so far:
// in IDS mode raw stream data is otherwise inspected in chunks, as
// Suricata's raw reassembly waits for its chunk size, so that content
// split over acknowledgements is seen whole. A flow whose protocol was not
// recognised never triggers.
func (l *Layer) RawTrigger(f *flow.Flow, dir int) bool {
	st := l.peek(f)
	if st == nil {
		return false
	}
	t := st.trig[dir&1]
	st.trig[dir&1] = false
	return t
}

// dnsDir is the direction a DNS message travels: queries to the server,
// responses to the client.
func dnsDir(m *dns.Message) int {
	if m.Response() {
		return 1
	}
	return 0
}

// add keeps a copy of m (transaction txID).
func (k *keptDNS) add(m *dns.Message, txID uint64) {
	if k.n == len(k.msgs) {
		k.msgs = append(k.msgs, dns.Message{})
		k.txs = append(k.txs, 0)
	}
	copyDNS(&k.msgs[k.n], m, &k.arena)
	k.txs[k.n] = txID
	k.n++
}

// keepDNS copies a DNS message received over TCP, with its bytes, into
// storage that lives until the next Begin.
func (l *Layer) keepDNS(src *dns.Message) *dns.Message {
	if l.ndnsTCP == len(l.dnsTCP) {
		l.dnsTCP = append(l.dnsTCP, dns.Message{})
	}
	dst := &l.dnsTCP[l.ndnsTCP]
	l.ndnsTCP++
	copyDNS(dst, src, &l.dnsArena)
	return dst
}

// copyDNS copies src into dst, reusing dst's record slices, with the bytes
// it points to appended to *arena.
func copyDNS(dst, src *dns.Message, arena *[]byte) {
	qs, an, ns, ar := dst.Questions[:0], dst.Answers[:0], dst.Authorities[:0], dst.Additionals[:0]
	*dst = *src
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		st := len(*arena)
		*arena = append(*arena, b...)
		return (*arena)[st:len(*arena):len(*arena)]
	}
	for _, q := range src.Questions {
		q.Name = cp(q.Name)
		qs = append(qs, q)
	}
	rr := func(dst []dns.Record, src []dns.Record) []dns.Record {
		for _, r := range src {
			r.Name, r.Data, r.Target, r.RName = cp(r.Name), cp(r.Data), cp(r.Target), cp(r.RName)
			dst = append(dst, r)
		}
		return dst
	}
	dst.Questions, dst.Answers, dst.Authorities, dst.Additionals = qs, rr(an, src.Answers), rr(ns, src.Authorities), rr(ar, src.Additionals)
}
