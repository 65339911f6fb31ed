package gen

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// Options change how a Generator runs.
type Options struct {
	// Manifest collects the manifest (every flow's addresses and
	// application values, the planted flows): it allocates per flow, so
	// leave it off for live sending.
	Manifest bool
	// Endless keeps starting new flows after the scenario's Flows (with new
	// addresses and ports), for live sending bounded by a count or a
	// duration. Planted flows are only those of the first Flows.
	Endless bool
}

// plantAssign is the plant of one flow.
type plantAssign struct {
	place   string
	marker  []byte
	decoy   []byte
	sid     int
	variant Variant
}

// Generator produces the frames of a scenario, one at a time, in a
// deterministic order: flows are interleaved (Scenario.Concurrency open at
// once), each a complete conversation (TCP handshake, data with
// acknowledgements, FIN close), with valid checksums and monotonic
// timestamps. A Generator is not safe for concurrent use.
type Generator struct {
	sc     *Scenario
	opts   Options
	rng    rng // scheduling
	now    int64
	gap    int64
	active []*flow
	pool   []*flow
	next   int // number of the next flow to start
	plants map[int]*plantAssign
	cum    [numKinds]float64 // cumulative kind weights
	frames uint64
	bytes  uint64
	name   []byte // scratch for names
	man    *Manifest
	err    error

	nClients, nClients6, nServers, nServers6 uint64
}

// New returns a Generator for sc (normalized by Load/Parse or Normalize).
func New(sc *Scenario, opts Options) (*Generator, error) {
	if sc == nil || sc.start.IsZero() {
		return nil, errors.New("gen: New: scenario not normalized (use Load, Parse or Scenario.Normalize)")
	}
	g := &Generator{sc: sc, opts: opts, rng: newRNG(sc.Seed), now: sc.start.UnixNano(), gap: int64(sc.gap),
		plants: map[int]*plantAssign{}, name: make([]byte, 0, 256)}
	g.nClients, g.nClients6 = prefixSize(sc.clients), prefixSize(sc.clients6)
	g.nServers, g.nServers6 = prefixSize(sc.servers), prefixSize(sc.servers6)
	m := &sc.Mix
	w := [numKinds]float64{m.HTTP.Weight, m.DNS.Weight, m.TLS.Weight, m.UDP.Weight, m.TCP.Weight, m.SYN.Weight}
	t := 0.0
	for i, v := range w {
		t += v
		g.cum[i] = t
	}
	if opts.Manifest {
		g.man = newManifest(sc)
	}
	if err := g.assignPlants(); err != nil {
		return nil, err
	}
	return g, nil
}

// kindOfPlace is the flow kind that carries a place.
func kindOfPlace(place string) flowKind {
	switch place {
	case PlaceHTTPURI, PlaceHTTPBody:
		return kindHTTP
	case PlaceDNSQuery:
		return kindDNS
	case PlaceTLSSNI:
		return kindTLS
	}
	return kindTCP
}

// assignPlants picks the planted flows: the At numbers, or spread evenly
// over the run (a taken number moves to the next free one).
func (g *Generator) assignPlants() error {
	sc := g.sc
	total := 0
	for _, p := range sc.Plant {
		total += p.Flows
	}
	if total > sc.Flows {
		return fmt.Errorf("gen: scenario %s: %d planted flows but only %d flows", sc.Name, total, sc.Flows)
	}
	for pi, p := range sc.Plant {
		decoy, err := makeDecoy([]byte(p.Marker))
		if err != nil {
			return fmt.Errorf("gen: scenario %s: plant[%d]: %v", sc.Name, pi, err)
		}
		sid := SIDBase + slices.Index(Places, p.Place)
		for k := 0; k < p.Flows; k++ {
			var num int
			if len(p.At) > 0 {
				num = p.At[k]
				if _, taken := g.plants[num]; taken {
					return fmt.Errorf("gen: scenario %s: plant[%d]: flow %d is planted twice", sc.Name, pi, num)
				}
			} else {
				num = int((int64(2*k+1)*int64(sc.Flows)/int64(2*p.Flows) + int64(pi)*7) % int64(sc.Flows))
				for {
					if _, taken := g.plants[num]; !taken {
						break
					}
					num = (num + 1) % sc.Flows
				}
			}
			g.plants[num] = &plantAssign{place: p.Place, marker: []byte(p.Marker), decoy: decoy, sid: sid,
				variant: mustVariant(p.Variants[k%len(p.Variants)])}
		}
	}
	return nil
}

func mustVariant(name string) Variant {
	v, ok := LookupVariant(name)
	if !ok {
		panic("gen: unknown variant " + name)
	}
	return v
}

// Frames returns how many frames were produced so far.
func (g *Generator) Frames() uint64 { return g.frames }

// Manifest returns the manifest collected so far (nil without
// Options.Manifest). Complete once Next returned io.EOF.
func (g *Generator) Manifest() *Manifest {
	if g.man != nil {
		g.man.Frames, g.man.Bytes = g.frames, g.bytes
	}
	return g.man
}

// Scenario returns the generator's scenario.
func (g *Generator) Scenario() *Scenario { return g.sc }

// Next writes the next frame into buf, which must hold MaxFrameLen bytes,
// and returns its length and timestamp (ns since the epoch). It returns
// io.EOF when the scenario is done. buf stays the caller's; nothing keeps
// a reference to it after the call. Once warm, Next allocates nothing
// (unless Options.Manifest is set).
func (g *Generator) Next(buf []byte) (int, int64, error) {
	if g.err != nil {
		return 0, 0, g.err
	}
	if len(buf) < MaxFrameLen {
		return 0, 0, fmt.Errorf("gen: Next: buffer of %d bytes, need %d", len(buf), MaxFrameLen)
	}
	for {
		if len(g.active) < g.sc.Concurrency && g.more() {
			if err := g.start(); err != nil {
				g.err = err
				return 0, 0, err
			}
			continue
		}
		if len(g.active) == 0 {
			return 0, 0, io.EOF
		}
		i := g.rng.intn(len(g.active))
		f := g.active[i]
		n, done, err := g.step(f, buf)
		if err != nil {
			g.err = fmt.Errorf("gen: flow %d (%s): %w", f.num, f.kind, err)
			return 0, 0, g.err
		}
		if done {
			g.end(i)
		}
		if n == 0 {
			continue
		}
		ts := g.now
		g.now += g.gap/2 + int64(g.rng.intn(int(g.gap)+1))
		g.frames++
		g.bytes += uint64(n)
		return n, ts, nil
	}
}

// NextFrame is Next in the FrameSource form.
func (g *Generator) NextFrame(buf []byte) (int, int64, error) { return g.Next(buf) }

func (g *Generator) more() bool { return g.opts.Endless || g.next < g.sc.Flows }

// end retires active flow i.
func (g *Generator) end(i int) {
	f := g.active[i]
	last := len(g.active) - 1
	g.active[i] = g.active[last]
	g.active[last] = nil
	g.active = g.active[:last]
	g.pool = append(g.pool, f)
}

// start opens the next flow.
func (g *Generator) start() error {
	var f *flow
	if n := len(g.pool); n > 0 {
		f = g.pool[n-1]
		g.pool = g.pool[:n-1]
		f.reset()
	} else {
		f = &flow{arena: make([]byte, 0, 4096), msgs: make([]message, 0, 16), planMsg: -1}
	}
	num := g.next
	g.next++
	f.num = num
	f.rng = newRNG(g.sc.Seed ^ mix64(uint64(num)+0x1234567))
	var pa *plantAssign
	if num < g.sc.Flows {
		pa = g.plants[num]
	}
	f.plant = pa
	if pa != nil {
		f.kind = kindOfPlace(pa.place)
	} else {
		f.kind = g.pickKind(&f.rng)
	}
	g.addresses(f)
	if g.man != nil {
		f.rec = g.man.addFlow(f)
	}
	if err := g.build(f); err != nil {
		return fmt.Errorf("gen: flow %d (%s): %w", f.num, f.kind, err)
	}
	g.active = append(g.active, f)
	return nil
}

func (g *Generator) pickKind(r *rng) flowKind {
	t := g.cum[numKinds-1]
	if t == 0 {
		return kindHTTP
	}
	x := r.float() * t
	for k := flowKind(0); k < numKinds; k++ {
		if x < g.cum[k] {
			return k
		}
	}
	return numKinds - 1
}

// addresses sets the flow's endpoints: client address and port from the
// flow number (unique 5-tuples for Flows up to the client range times
// 16384, the IANA dynamic ports 49152-65535), a random server.
func (g *Generator) addresses(f *flow) {
	sc := g.sc
	f.v6 = sc.IPv6Share > 0 && f.rng.float() < sc.IPv6Share
	n := uint64(f.num)
	cl, sv, nc, ns := sc.clients, sc.servers, g.nClients, g.nServers
	if f.v6 {
		cl, sv, nc, ns = sc.clients6, sc.servers6, g.nClients6, g.nServers6
	}
	f.addr[0] = addrInPrefix(cl, n%nc)
	f.addr[1] = addrInPrefix(sv, f.rng.u64()%ns)
	f.port[0] = uint16(49152 + (n/nc+mix64(n%nc))%16384)
	m := &sc.Mix
	switch f.kind {
	case kindHTTP:
		f.port[1] = m.HTTP.Port
	case kindDNS:
		f.port[1] = m.DNS.Port
	case kindTLS:
		f.port[1] = m.TLS.Port
	case kindUDP:
		f.port[1] = m.UDP.Port
	case kindTCP:
		f.port[1] = m.TCP.Port
	case kindSYN:
		f.port[1] = m.SYN.Port
	}
	f.mss = sc.MSS
	if f.v6 {
		f.mss -= ipv6Len - ipv4Len // the same MTU
	}
	f.seq[0], f.seq[1] = f.rng.u32(), f.rng.u32()
	f.ipid[0], f.ipid[1] = uint16(f.rng.u32()), uint16(f.rng.u32())
}

// build writes the flow's messages (and, if planted, its evasion plan).
func (g *Generator) build(f *flow) error {
	pa := f.plant
	r := &f.rng
	m := &g.sc.Mix
	switch f.kind {
	case kindHTTP:
		hs := len(f.arena)
		f.arena = appendHost(f.arena, r)
		he := len(f.arena)
		if f.rec != nil {
			f.rec.Host = string(f.arena[hs:he])
		}
		nreq := m.HTTP.Requests.draw(r)
		for i := 0; i < nreq; i++ {
			post := r.float() < m.HTTP.PostShare
			var plantURI, plantBody []byte
			if i == 0 && pa != nil {
				if pa.place == PlaceHTTPURI {
					plantURI, post = pa.marker, false
				} else {
					plantBody, post = pa.marker, true
				}
			}
			bodyLen := 0
			if post {
				bodyLen = m.HTTP.RequestBody.draw(r)
				if plantBody != nil {
					bodyLen = min(max(bodyLen, len(plantBody)+128), 1000)
				}
			}
			start := len(f.arena)
			var us, ue, mark int
			f.arena, us, ue, mark = appendHTTPRequest(f.arena, r, f.arena[hs:he], post, bodyLen, plantURI, plantBody)
			msg := message{dir: 0, hs: start, he: len(f.arena), markAt: mark}
			if post && plantBody == nil {
				msg.body, msg.kind, msg.toff = bodyLen, bodyText, r.u32()
			}
			if mark >= 0 {
				f.planMsg = len(f.msgs)
			}
			f.addMsg(msg)
			if f.rec != nil {
				f.rec.URIs = append(f.rec.URIs, string(f.arena[us:ue]))
			}
			n := m.HTTP.ResponseBody.draw(r)
			start = len(f.arena)
			f.arena = appendHTTPResponseHead(f.arena, n)
			f.addMsg(message{dir: 1, hs: start, he: len(f.arena), body: n, kind: bodyText, toff: r.u32(), markAt: -1})
		}
	case kindDNS:
		nq := m.DNS.Queries.draw(r)
		for i := 0; i < nq; i++ {
			qtype := uint16(1)
			if r.intn(4) == 0 {
				qtype = 28
			}
			g.name = g.name[:0]
			planted := i == 0 && pa != nil
			if planted {
				g.name = append(g.name, pa.marker...)
				g.name = append(g.name, '.')
				g.name = appendWord(g.name, r)
				g.name = append(g.name, '.')
				g.name = append(g.name, tlds[r.intn(len(tlds))]...)
			} else {
				g.name = appendWord(g.name, r)
				g.name = append(g.name, '.')
				g.name = appendHost(g.name, r)
			}
			start := len(f.arena)
			f.arena = appendDNSQuery(f.arena, uint16(r.u32()), g.name, qtype)
			msg := message{dir: 0, hs: start, he: len(f.arena), markAt: -1}
			if planted {
				msg.markAt = 13
				f.planMsg = len(f.msgs)
			}
			f.addMsg(msg)
			if f.rec != nil {
				f.rec.Queries = append(f.rec.Queries, string(g.name))
			}
			if r.float() < *m.DNS.AnswerShare {
				rs := len(f.arena)
				f.arena = appendDNSResponse(f.arena, f.arena[start:rs], qtype, 1+r.intn(2), r)
				f.addMsg(message{dir: 1, hs: rs, he: len(f.arena), markAt: -1})
			}
		}
	case kindTLS:
		g.name = g.name[:0]
		if pa != nil {
			g.name = append(g.name, pa.marker...)
			g.name = append(g.name, '.')
		}
		g.name = appendHost(g.name, r)
		if f.rec != nil {
			f.rec.SNI = string(g.name)
		}
		start := len(f.arena)
		var mark int
		f.arena, mark = appendClientHello(f.arena, r, g.name)
		msg := message{dir: 0, hs: start, he: len(f.arena), markAt: -1}
		if pa != nil {
			msg.markAt = mark
			f.planMsg = len(f.msgs)
		}
		f.addMsg(msg)
		sid := f.arena[start+44 : start+76]
		ss := len(f.arena)
		f.arena = appendServerHello(f.arena, r, sid)
		hsApp := 800 + r.intn(3000)
		f.addMsg(message{dir: 1, hs: ss, he: len(f.arena), body: tlsBodyLen(hsApp, hsApp), kind: bodyTLS,
			toff: r.u32(), recMax: hsApp, recApp: hsApp, markAt: -1})
		cs := len(f.arena)
		f.arena = append(f.arena, 20, 3, 3, 0, 1, 1)
		f.addMsg(message{dir: 0, hs: cs, he: len(f.arena), body: tlsBodyLen(53, 53), kind: bodyTLS,
			toff: r.u32(), recMax: 53, recApp: 53, markAt: -1})
		rec := m.TLS.RecordSize
		for i, n := 0, m.TLS.Requests.draw(r); i < n; i++ {
			q := 100 + r.intn(500)
			f.addMsg(message{dir: 0, hs: len(f.arena), he: len(f.arena), body: tlsBodyLen(q, rec), kind: bodyTLS,
				toff: r.u32(), recMax: rec, recApp: q, markAt: -1})
			a := m.TLS.AppData.draw(r)
			f.addMsg(message{dir: 1, hs: len(f.arena), he: len(f.arena), body: tlsBodyLen(a, rec), kind: bodyTLS,
				toff: r.u32(), recMax: rec, recApp: a, markAt: -1})
		}
	case kindUDP:
		// Datagrams are made as they are sent (a flow may have a million).
		f.udpLeft = m.UDP.Datagrams.draw(r)
	case kindTCP:
		if pa != nil {
			start := len(f.arena)
			f.arena = append(f.arena, bulkPreamble[:]...)
			f.arena = appendText(f.arena, r, 48)
			mark := len(f.arena) - start
			f.arena = append(f.arena, pa.marker...)
			f.arena = appendText(f.arena, r, 48)
			f.planMsg = len(f.msgs)
			f.addMsg(message{dir: 0, hs: start, he: len(f.arena), markAt: mark})
			f.addMsg(message{dir: 0, hs: len(f.arena), he: len(f.arena), body: m.TCP.Bytes.draw(r), kind: bodyRandom, toff: r.u32(), markAt: -1})
		} else {
			start := len(f.arena)
			f.arena = append(f.arena, bulkPreamble[:]...)
			f.addMsg(message{dir: 0, hs: start, he: len(f.arena), body: m.TCP.Bytes.draw(r), kind: bodyRandom, toff: r.u32(), markAt: -1})
		}
		start := len(f.arena)
		f.arena = append(f.arena, "OK\r\n"...)
		f.addMsg(message{dir: 1, hs: start, he: len(f.arena), markAt: -1})
	case kindSYN:
		f.rst = r.float() < m.SYN.AnsweredShare
	}
	if !f.kind.isTCP() {
		f.phase = phData
	}
	if pa != nil {
		if f.planMsg < 0 {
			return fmt.Errorf("planted %s but no message carries the marker", pa.place)
		}
		if err := g.buildPlan(f); err != nil {
			return err
		}
		if f.rec != nil {
			g.man.addPlant(f, pa)
		}
	}
	return nil
}

// step writes the flow's next packet into out: its length (0 if none) and
// whether the flow is done.
func (g *Generator) step(f *flow, out []byte) (int, bool, error) {
	if !f.kind.isTCP() {
		return g.stepUDP(f, out)
	}
	switch f.phase {
	case phSYN:
		n := g.finishTCP(out, f, 0, f.seq[0], 0, flSYN, 0, 0, 0)
		f.seq[0]++
		if f.kind == kindSYN && !f.rst {
			f.phase = phDone
			return n, true, nil
		}
		f.phase = phSYNACK
		return n, false, nil
	case phSYNACK:
		n := g.finishTCP(out, f, 1, f.seq[1], f.seq[0], flSYN|flACK, 0, 0, 0)
		f.seq[1]++
		f.phase = phACK
		if f.kind == kindSYN {
			f.phase = phRST
		}
		return n, false, nil
	case phACK:
		n := g.finishTCP(out, f, 0, f.seq[0], f.seq[1], flACK, 0, 0, 0)
		f.phase = phData
		return n, false, nil
	case phRST:
		n := g.finishTCP(out, f, 0, f.seq[0], 0, flRST, 0, 0, 0)
		f.phase = phDone
		return n, true, nil
	case phData:
		if f.needAck {
			d := f.ackDir
			n := g.finishTCP(out, f, d, f.seq[d], f.seq[1-d], flACK, 0, 0, 0)
			f.needAck, f.unacked = false, 0
			return n, false, nil
		}
		if f.mi < len(f.msgs) {
			if f.mi == f.planMsg && len(f.plan) > 0 {
				return g.stepPlan(f, out)
			}
			return g.stepData(f, out), false, nil
		}
		f.phase = phFIN1
		fallthrough
	case phFIN1:
		n := g.finishTCP(out, f, 0, f.seq[0], f.seq[1], flFIN|flACK, 0, 0, 0)
		f.seq[0]++
		f.phase = phFIN2
		return n, false, nil
	case phFIN2:
		n := g.finishTCP(out, f, 1, f.seq[1], f.seq[0], flFIN|flACK, 0, 0, 0)
		f.seq[1]++
		f.phase = phLastACK
		return n, false, nil
	case phLastACK:
		n := g.finishTCP(out, f, 0, f.seq[0], f.seq[1], flACK, 0, 0, 0)
		f.phase = phDone
		return n, true, nil
	}
	return 0, true, nil
}

// stepData sends the next segment of the current message; the receiver
// acknowledges every second segment and the end of each message.
func (g *Generator) stepData(f *flow, out []byte) int {
	m := &f.msgs[f.mi]
	d := int(m.dir)
	plen := min(f.mss, m.length()-f.off)
	po := g.tcpPayloadOff(f, false)
	m.read(f.arena, out[po:po+plen], f.off)
	flags := uint8(flACK)
	if f.off+plen == m.length() {
		flags |= flPSH
	}
	n := g.finishTCP(out, f, d, f.seq[d], f.seq[1-d], flags, 0, 0, plen)
	f.seq[d] += uint32(plen)
	f.off += plen
	f.unacked++
	if f.off >= m.length() {
		f.mi++
		f.off = 0
		f.needAck, f.ackDir = true, 1-d
	} else if f.unacked >= 2 {
		f.needAck, f.ackDir = true, 1-d
	}
	return n
}

// stepPlan sends the next packet of the planted message's evasion plan.
func (g *Generator) stepPlan(f *flow, out []byte) (int, bool, error) {
	m := &f.msgs[f.mi]
	d := int(m.dir)
	if f.pi == 0 && f.fi == 0 && len(f.frags) == 0 {
		f.planSeq = f.seq[d]
	}
	ps := &f.plan[f.pi]
	var n int
	if ps.frag {
		if len(f.frags) == 0 {
			if err := g.buildFrags(f, ps, d); err != nil {
				return 0, true, err
			}
		}
		n = g.writeFrag(out, f, d, protoTCP)
		if f.fi < len(f.frags) {
			return n, false, nil
		}
		f.frags, f.fi = f.frags[:0], 0
	} else {
		plen := ps.b - ps.a
		po := g.tcpPayloadOff(f, false)
		copy(out[po:po+plen], f.arena[ps.a:ps.b])
		flags := uint8(flACK | flPSH)
		if ps.urg != 0 {
			flags |= flURG
		}
		if ps.expired && g.man != nil {
			g.man.expired(f, g.frames+1)
		}
		n = g.finishTCP(out, f, d, f.planSeq+uint32(ps.seqOff), f.seq[1-d], flags, ps.urg, ps.ttl, plen)
	}
	f.pi++
	if f.pi == len(f.plan) {
		f.seq[d] = f.planSeq + uint32(f.wire)
		f.mi++
		f.off = 0
		f.needAck, f.ackDir, f.unacked = true, 1-d, 0
	}
	return n, false, nil
}

// stepUDP sends the next datagram (or fragment) of a UDP flow.
func (g *Generator) stepUDP(f *flow, out []byte) (int, bool, error) {
	if f.kind != kindUDP && f.mi >= len(f.msgs) {
		return 0, true, nil
	}
	if f.kind == kindUDP {
		return g.stepBulkUDP(f, out)
	}
	m := &f.msgs[f.mi]
	d := int(m.dir)
	if f.mi == f.planMsg && len(f.plan) > 0 {
		ps := &f.plan[0]
		if len(f.frags) == 0 {
			if err := g.buildFrags(f, ps, d); err != nil {
				return 0, true, err
			}
		}
		n := g.writeFrag(out, f, d, protoUDP)
		if f.fi == len(f.frags) {
			f.frags, f.fi = f.frags[:0], 0
			f.mi++
		}
		return n, f.mi >= len(f.msgs), nil
	}
	plen := m.length()
	po := g.udpPayloadOff(f)
	m.read(f.arena, out[po:po+plen], 0)
	n := g.finishUDP(out, f, d, plen)
	f.mi++
	return n, f.mi >= len(f.msgs), nil
}

// stepBulkUDP sends the next datagram of a plain UDP flow: a client
// datagram (a fixed preamble, so that no analyzer's heuristics take the
// random payload for RTP or the like, then random bytes), answered by one
// of the same size with the scenario's reply share.
func (g *Generator) stepBulkUDP(f *flow, out []byte) (int, bool, error) {
	if f.udpLeft == 0 && !f.udpReply {
		return 0, true, nil
	}
	r := &f.rng
	d := 0
	if f.udpReply {
		d, f.udpReply = 1, false
	} else {
		u := g.sc.Mix.UDP
		f.udpSize = min(u.Size.draw(r), f.mss+12)
		f.udpLeft--
		f.udpReply = u.ReplyShare > 0 && r.float() < u.ReplyShare
	}
	po := g.udpPayloadOff(f)
	pay := out[po : po+f.udpSize]
	pre := copy(pay, bulkPreamble[:])
	fillFrom(pay[pre:], &randTable, r.u32())
	n := g.finishUDP(out, f, d, f.udpSize)
	return n, f.udpLeft == 0 && !f.udpReply, nil
}

// l3Len is the IP header length of the flow's unfragmented packets.
func (f *flow) l3Len() int {
	if f.v6 {
		return ipv6Len
	}
	return ipv4Len
}

func (g *Generator) tcpPayloadOff(f *flow, syn bool) int {
	if syn {
		return ethLen + f.l3Len() + tcpSynLen
	}
	return ethLen + f.l3Len() + tcpLen
}

func (g *Generator) udpPayloadOff(f *flow) int { return ethLen + f.l3Len() + udpLen }

func (g *Generator) putEth(out []byte, f *flow, dir int) {
	src, dst := &g.sc.clientMAC, &g.sc.serverMAC
	if dir == 1 {
		src, dst = dst, src
	}
	et := uint16(0x0800)
	if f.v6 {
		et = 0x86dd
	}
	putEth(out, dst, src, et)
}

// ipFor returns the IP header of the flow's next packet in direction dir.
func (g *Generator) ipFor(f *flow, dir int, proto, ttl uint8) ipHdr {
	h := ipHdr{v6: f.v6, src: &f.addr[dir], dst: &f.addr[1-dir], proto: proto, ttl: ttl, df: proto == protoTCP}
	if ttl == 0 {
		h.ttl = 64
	}
	h.id = uint32(f.ipid[dir])
	f.ipid[dir]++
	return h
}

// finishTCP writes the Ethernet, IP and TCP headers of a segment whose
// plen payload bytes are already in place at tcpPayloadOff, and the
// checksums. It returns the frame length.
func (g *Generator) finishTCP(out []byte, f *flow, dir int, seq, ack uint32, flags uint8, urg uint16, ttl uint8, plen int) int {
	syn := flags&flSYN != 0
	hl := tcpLen
	if syn {
		hl = tcpSynLen
	}
	ip := g.ipFor(f, dir, protoTCP, ttl)
	l4len := hl + plen
	g.putEth(out, f, dir)
	n := ethLen + ip.put(out[ethLen:], l4len)
	putTCP(out[n:], f.port[dir], f.port[1-dir], seq, ack, flags, 65535, urg, syn, uint16(f.mss))
	finishL4(out[n:n+l4len], f.v6, &f.addr[dir], &f.addr[1-dir], protoTCP)
	return n + l4len
}

// finishUDP is finishTCP for a UDP datagram.
func (g *Generator) finishUDP(out []byte, f *flow, dir int, plen int) int {
	ip := g.ipFor(f, dir, protoUDP, 0)
	l4len := udpLen + plen
	g.putEth(out, f, dir)
	n := ethLen + ip.put(out[ethLen:], l4len)
	putUDP(out[n:], f.port[dir], f.port[1-dir], plen)
	finishL4(out[n:n+l4len], f.v6, &f.addr[dir], &f.addr[1-dir], protoUDP)
	return n + l4len
}

// buildFrags builds the transport datagram of plan piece ps (real and
// decoy) and the fragment list of the variant's shape.
func (g *Generator) buildFrags(f *flow, ps *planSeg, d int) error {
	v := f.plant.variant
	payload := f.arena[ps.a:ps.b]
	k := len(f.plant.marker)
	var hl int
	proto := uint8(protoTCP)
	if f.kind.isTCP() {
		hl = tcpLen
		f.dgram = append(f.dgram[:0], make([]byte, hl)...)
		putTCP(f.dgram, f.port[d], f.port[1-d], f.planSeq+uint32(ps.seqOff), f.seq[1-d], flACK|flPSH, 65535, 0, false, 0)
	} else {
		proto = protoUDP
		hl = udpLen
		f.dgram = append(f.dgram[:0], make([]byte, hl)...)
		putUDP(f.dgram, f.port[d], f.port[1-d], len(payload))
	}
	f.dgram = append(f.dgram, payload...)
	finishL4(f.dgram, f.v6, &f.addr[d], &f.addr[1-d], proto)
	f.dgramD = append(f.dgramD[:0], f.dgram...)
	copy(f.dgramD[hl+ps.markAt:], f.plant.decoy)
	D := len(f.dgram)
	M := hl + ps.markAt
	A, B := M&^7, (M+k+7)&^7
	s := Shapes[v.Shape]
	oldS, oldE := A+8*s.OldStart, B+8*s.OldEnd
	newS, newE := A+8*s.NewStart, B+8*s.NewEnd
	lo, hi := min(oldS, newS), max(oldE, newE)
	if minLo := (hl + 7) &^ 7; lo < minLo {
		return fmt.Errorf("variant %s: the marker starts %d bytes into the datagram, too close to the transport header for the shape", v.Name, M)
	}
	if hi >= D {
		return fmt.Errorf("variant %s: the marker ends %d bytes before the datagram's end, too close for the shape", v.Name, D-M-k)
	}
	f.frags = append(f.frags[:0], fragSpec{oldS, oldE, v.NewReal}, fragSpec{newS, newE, !v.NewReal})
	maxFrag := 1480
	if f.v6 {
		maxFrag = 1448
	}
	for off := 0; off < lo; off += maxFrag {
		f.frags = append(f.frags, fragSpec{off: off, end: min(off+maxFrag, lo)})
	}
	for off := hi; off < D; off += maxFrag {
		f.frags = append(f.frags, fragSpec{off: off, end: min(off+maxFrag, D)})
	}
	f.fi = 0
	if f.v6 {
		f.fragID = f.rng.u32()
	} else {
		f.fragID = uint32(f.ipid[d])
		f.ipid[d]++
	}
	return nil
}

// writeFrag writes the next fragment of the flow's datagram in flight.
func (g *Generator) writeFrag(out []byte, f *flow, d int, proto uint8) int {
	fs := f.frags[f.fi]
	f.fi++
	src := f.dgram
	if fs.decoy {
		src = f.dgramD
	}
	ip := ipHdr{v6: f.v6, src: &f.addr[d], dst: &f.addr[1-d], proto: proto, ttl: 64, id: f.fragID,
		frag: true, fragOff: fs.off, mf: fs.end < len(f.dgram)}
	g.putEth(out, f, d)
	n := ethLen + ip.put(out[ethLen:], fs.end-fs.off)
	n += copy(out[n:], src[fs.off:fs.end])
	return n
}

// buildPlan lays out how the planted message is sent under its variant.
func (g *Generator) buildPlan(f *flow) error {
	pa := f.plant
	v := pa.variant
	m := &f.msgs[f.planMsg]
	if m.body != 0 {
		return errors.New("planted message has a generated body")
	}
	L := m.length()
	mk := m.markAt
	k := len(pa.marker)
	base := m.hs
	f.wire = L
	if v.Kind == KindPlain {
		f.plan = f.plan[:0]
		return nil
	}
	if !f.kind.isTCP() {
		if v.Kind != KindFrag {
			return fmt.Errorf("variant %s needs TCP", v.Name)
		}
		f.plan = append(f.plan[:0], planSeg{a: base, b: base + L, markAt: mk, frag: true})
		return nil
	}
	// The decoy copy of the message.
	f.decoyAt = len(f.arena)
	f.arena = append(f.arena, f.arena[m.hs:m.he]...)
	copy(f.arena[f.decoyAt+mk:], pa.decoy)
	mss := f.mss
	if v.Kind == KindUrgent {
		mss--
	}
	if k > mss/2 {
		return fmt.Errorf("marker of %d bytes too long for mss %d", k, mss)
	}
	// The piece P = [p0, p1) holds the marker; the rest goes in mss chunks.
	p0 := max(0, mk-(mss-k)/2)
	p1 := min(L, p0+mss)
	chunks := func(lo, hi, size, shift int) {
		for o := lo; o < hi; o += size {
			f.plan = append(f.plan, planSeg{seqOff: o + shift, a: base + o, b: base + min(o+size, hi), markAt: -1})
		}
	}
	real := func(lo, hi int) planSeg {
		return planSeg{seqOff: lo, a: base + lo, b: base + hi, markAt: mk - lo}
	}
	decoy := func(lo, hi int) planSeg {
		return planSeg{seqOff: lo, a: f.decoyAt + lo, b: f.decoyAt + hi, markAt: -1}
	}
	f.plan = f.plan[:0]
	switch v.Kind {
	case KindTiny:
		chunks(0, L, g.sc.Evasion.TinySize, 0)
	case KindOutOfOrder:
		chunks(0, L, g.sc.Evasion.OOOSize, 0)
		n := len(f.plan)
		for i := n - 1; i > 0; i-- {
			j := f.rng.intn(i + 1)
			f.plan[i], f.plan[j] = f.plan[j], f.plan[i]
		}
		if n > 1 && slices.IsSortedFunc(f.plan, func(a, b planSeg) int { return a.seqOff - b.seqOff }) {
			f.plan[0], f.plan[1] = f.plan[1], f.plan[0]
		}
	case KindOverlap:
		s := Shapes[v.Shape]
		oldS, oldE := mk+8*s.OldStart, mk+k+8*s.OldEnd
		newS, newE := mk+8*s.NewStart, mk+k+8*s.NewEnd
		lo, hi := min(oldS, newS), max(oldE, newE)
		if lo < 1 || hi > L {
			return fmt.Errorf("variant %s: marker at %d of %d bytes leaves no room for the shape", v.Name, mk, L)
		}
		old, nw := decoy(oldS, oldE), real(newS, newE)
		if !v.NewReal {
			old, nw = real(oldS, oldE), decoy(newS, newE)
		}
		f.plan = append(f.plan, old, nw)
		chunks(hi, L, mss, 0)
		chunks(0, lo, mss, 0)
	case KindFrag:
		chunks(0, p0, mss, 0)
		ps := real(p0, p1)
		ps.frag = true
		f.plan = append(f.plan, ps)
		chunks(p1, L, mss, 0)
	case KindTTL, KindTTLAfter:
		chunks(0, p0, mss, 0)
		dp := decoy(p0, p1)
		dp.ttl, dp.expired = uint8(g.sc.Target.Hops), true
		if v.Kind == KindTTL {
			f.plan = append(f.plan, dp, real(p0, p1))
		} else {
			f.plan = append(f.plan, real(p0, p1), dp)
		}
		chunks(p1, L, mss, 0)
	case KindUrgent:
		chunks(0, p0, mss, 0)
		cut := mk + k/2
		ua := len(f.arena)
		f.arena = append(f.arena, f.arena[base+p0:base+cut]...)
		f.arena = append(f.arena, '!')
		f.arena = append(f.arena, f.arena[base+cut:base+p1]...)
		f.plan = append(f.plan, planSeg{seqOff: p0, a: ua, b: len(f.arena), markAt: -1, urg: uint16(cut - p0 + 1)})
		chunks(p1, L, mss, 1)
		f.wire = L + 1
	}
	return nil
}
