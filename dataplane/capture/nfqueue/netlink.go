package nfqueue

import (
	"encoding/binary"
	"errors"
)

// Wire format of nfnetlink_queue (linux/netfilter/nfnetlink_queue.h).
//
// Every message is a netlink header (struct nlmsghdr, host byte order), an
// nfnetlink header (struct nfgenmsg: family, version, res_id = queue number
// in network byte order), then attributes (struct nlattr, host byte order
// header, 4-byte aligned) whose payloads are in network byte order.
const (
	nlmsgHdrLen = 16
	nfgenHdrLen = 4
	nlaHdrLen   = 4

	nlmsgNoop    = 0x1
	nlmsgError   = 0x2
	nlmsgDone    = 0x3
	nlmsgOverrun = 0x4

	nlmFRequest = 0x1

	solNetlink    = 270 // SOL_NETLINK
	netlinkCapAck = 10  // NETLINK_CAP_ACK: error replies carry only our header

	nfnlSubsysQueue = 3
	nfnetlinkV0     = 0

	msgPacket       = 0 // NFQNL_MSG_PACKET: kernel -> user, one queued packet
	msgVerdict      = 1 // NFQNL_MSG_VERDICT: verdict for one packet id
	msgConfig       = 2 // NFQNL_MSG_CONFIG
	msgVerdictBatch = 3 // NFQNL_MSG_VERDICT_BATCH: verdict for every id <= the given one

	typePacket       = nfnlSubsysQueue<<8 | msgPacket
	typeVerdict      = nfnlSubsysQueue<<8 | msgVerdict
	typeConfig       = nfnlSubsysQueue<<8 | msgConfig
	typeVerdictBatch = nfnlSubsysQueue<<8 | msgVerdictBatch

	// enum nfqnl_attr_type
	attrPacketHdr     = 1
	attrVerdictHdr    = 2
	attrMark          = 3
	attrTimestamp     = 4
	attrIfIndexIn     = 5
	attrIfIndexOut    = 6
	attrIfIndexPhysIn = 7
	attrIfIndexPhysOu = 8
	attrHWAddr        = 9
	attrPayload       = 10
	attrCapLen        = 13
	attrSkbInfo       = 14

	// enum nfqnl_attr_config
	cfgCmd      = 1
	cfgParams   = 2
	cfgQueueLen = 3
	cfgMask     = 4
	cfgFlags    = 5

	cmdBind    = 1
	copyPacket = 2 // NFQNL_COPY_PACKET

	cfgFFailOpen = 1 << 0 // NFQA_CFG_F_FAIL_OPEN
	cfgFGSO      = 1 << 2 // NFQA_CFG_F_GSO

	nfDrop              = 0
	nfAccept            = 1
	nfQueue             = 3
	nfRepeat            = 4
	nfVerdictQueueShift = 16     // NF_VERDICT_QBITS: queue number of NF_QUEUE
	nfVerdictQueueBypss = 0x8000 // NF_VERDICT_FLAG_QUEUE_BYPASS

	nlaTypeMask = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER

	// MaxCopyRange is the largest number of packet bytes the kernel copies
	// into one message (NFQNL_MAX_COPY_RANGE: a 16-bit attribute length
	// minus its header). Longer packets arrive truncated, with their
	// original length in Meta.CapLen and Packet.WireLen.
	MaxCopyRange = 0xffff - nlaHdrLen
)

// Bits of Meta.SkbInfo (NFQA_SKB_*).
const (
	// SkbCsumNotReady: the transport checksum is not computed yet (the
	// packet was generated locally or crossed a veth with checksum
	// offload). Only with Options.GSO; without it the kernel computes the
	// checksum before queueing.
	SkbCsumNotReady = 1 << 0
	// SkbGSO: the packet is a GSO super-packet (Options.GSO), longer than
	// the MTU; the kernel segments it after the verdict.
	SkbGSO = 1 << 1
	// SkbCsumNotVerified: the checksum was not verified by the NIC.
	SkbCsumNotVerified = 1 << 2
)

// Netfilter hooks (Meta.Hook).
const (
	HookPrerouting  = 0
	HookInput       = 1
	HookForward     = 2
	HookOutput      = 3
	HookPostrouting = 4
)

var (
	ne = binary.NativeEndian
	be = binary.BigEndian
)

// Parse errors. They are sentinels so the per-packet path allocates
// nothing when the kernel sends something unexpected.
var (
	errShortMsg     = errors.New("netlink message shorter than its header")
	errMsgLen       = errors.New("netlink message length beyond the datagram")
	errShortNfgen   = errors.New("packet message without nfgenmsg header")
	errAttrLen      = errors.New("attribute length out of bounds")
	errAttrShort    = errors.New("attribute shorter than its type requires")
	errNoPacketHdr  = errors.New("packet message without NFQA_PACKET_HDR")
	errNoPayload    = errors.New("packet message without NFQA_PAYLOAD (queue not in copy-packet mode)")
	errQueueMismach = errors.New("packet message for another queue")
)

func align4(n int) int { return (n + 3) &^ 3 }

// nlHeader is a decoded struct nlmsghdr.
type nlHeader struct {
	Len   uint32
	Type  uint16
	Flags uint16
	Seq   uint32
	Pid   uint32
}

// nextMessage returns the netlink message that starts at b[off:], and the
// offset of the message after it. A message whose length runs past the end
// of b is returned cut to what b holds, with errMsgLen, so a caller can
// still look for the packet id in it; next is then len(b).
func nextMessage(b []byte, off int) (msg []byte, h nlHeader, next int, err error) {
	rem := len(b) - off
	if rem < nlmsgHdrLen {
		return nil, h, len(b), errShortMsg
	}
	m := b[off:]
	h.Len = ne.Uint32(m[0:4])
	h.Type = ne.Uint16(m[4:6])
	h.Flags = ne.Uint16(m[6:8])
	h.Seq = ne.Uint32(m[8:12])
	h.Pid = ne.Uint32(m[12:16])
	if h.Len < nlmsgHdrLen {
		return nil, h, len(b), errShortMsg
	}
	if uint64(h.Len) > uint64(rem) {
		return m[:rem:rem], h, len(b), errMsgLen
	}
	n := int(h.Len)
	next = off + align4(n)
	if next > len(b) {
		next = len(b)
	}
	return m[:n:n], h, next, nil
}

// nextAttr returns the attribute that starts at b[off:]: its type (flag
// bits stripped), its payload, and the offset of the next attribute. The
// last attribute of a message may lack its padding.
func nextAttr(b []byte, off int) (typ uint16, data []byte, next int, err error) {
	rem := len(b) - off
	if rem < nlaHdrLen {
		return 0, nil, len(b), errAttrLen
	}
	l := int(ne.Uint16(b[off : off+2]))
	typ = ne.Uint16(b[off+2:off+4]) & nlaTypeMask
	if l < nlaHdrLen || l > rem {
		return typ, nil, len(b), errAttrLen
	}
	next = off + align4(l)
	if next > len(b) {
		next = len(b)
	}
	return typ, b[off+nlaHdrLen : off+l : off+l], next, nil
}

// pktAttrs is what one NFQNL_MSG_PACKET message carries.
type pktAttrs struct {
	queue      uint16
	hasID      bool
	id         uint32
	hwProto    uint16
	hook       uint8
	mark       uint32
	hasTS      bool
	tsSec      uint64
	tsUsec     uint64
	inDev      uint32
	outDev     uint32
	physInDev  uint32
	physOutDev uint32
	capLen     uint32
	skbInfo    uint32
	payload    []byte // points into the message; nil when absent
}

// parsePacket decodes a packet message (msg starts with its nlmsghdr and is
// cut to the header's length). Attributes it does not know are skipped. On
// error, a.hasID still tells whether the packet id was read before the
// fault, so the caller can give the packet a verdict.
func parsePacket(msg []byte, a *pktAttrs) error {
	*a = pktAttrs{}
	if len(msg) < nlmsgHdrLen+nfgenHdrLen {
		return errShortNfgen
	}
	a.queue = be.Uint16(msg[nlmsgHdrLen+2 : nlmsgHdrLen+4])
	attrs := msg[nlmsgHdrLen+nfgenHdrLen:]
	for off := 0; off < len(attrs); {
		typ, d, next, err := nextAttr(attrs, off)
		if err != nil {
			return err
		}
		off = next
		switch typ {
		case attrPacketHdr: // packet_id be32, hw_protocol be16, hook u8 (packed)
			if len(d) < 7 {
				return errAttrShort
			}
			a.id = be.Uint32(d[0:4])
			a.hwProto = be.Uint16(d[4:6])
			a.hook = d[6]
			a.hasID = true
		case attrMark, attrIfIndexIn, attrIfIndexOut, attrIfIndexPhysIn, attrIfIndexPhysOu, attrCapLen, attrSkbInfo:
			if len(d) < 4 {
				return errAttrShort
			}
			v := be.Uint32(d[0:4])
			switch typ {
			case attrMark:
				a.mark = v
			case attrIfIndexIn:
				a.inDev = v
			case attrIfIndexOut:
				a.outDev = v
			case attrIfIndexPhysIn:
				a.physInDev = v
			case attrIfIndexPhysOu:
				a.physOutDev = v
			case attrCapLen:
				a.capLen = v
			case attrSkbInfo:
				a.skbInfo = v
			}
		case attrTimestamp: // sec be64, usec be64
			if len(d) < 16 {
				return errAttrShort
			}
			a.tsSec = be.Uint64(d[0:8])
			a.tsUsec = be.Uint64(d[8:16])
			a.hasTS = true
		case attrPayload:
			a.payload = d
		}
	}
	if !a.hasID {
		return errNoPacketHdr
	}
	if len(a.payload) == 0 {
		a.payload = nil
		return errNoPayload
	}
	return nil
}

// nlError returns the error code of an NLMSG_ERROR message (0 for an
// acknowledgement, a negative errno otherwise) and the header of the
// request it answers (as much of it as the reply carries).
func nlError(msg []byte) (code int32, req nlHeader, ok bool) {
	body := msg[nlmsgHdrLen:]
	if len(body) < 4 {
		return 0, req, false
	}
	code = int32(ne.Uint32(body[0:4]))
	if len(body) >= 4+nlmsgHdrLen {
		r := body[4:]
		req = nlHeader{Len: ne.Uint32(r[0:4]), Type: ne.Uint16(r[4:6]), Flags: ne.Uint16(r[6:8]), Seq: ne.Uint32(r[8:12]), Pid: ne.Uint32(r[12:16])}
	}
	return code, req, true
}

// appendHeader appends a netlink header and an nfgenmsg for queue; the
// length is patched by finishMsg.
func appendHeader(b []byte, typ, flags uint16, seq uint32, queue uint16) []byte {
	b = ne.AppendUint32(b, 0)
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, flags)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0)        // to the kernel
	b = append(b, 0, nfnetlinkV0)    // AF_UNSPEC, version
	return be.AppendUint16(b, queue) // res_id
}

// finishMsg sets the length of the message that starts at b[start:].
func finishMsg(b []byte, start int) {
	ne.PutUint32(b[start:start+4], uint32(len(b)-start))
}

// appendAttr appends an attribute with data, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = ne.AppendUint16(b, uint16(nlaHdrLen+len(data)))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendAttrU32 appends an attribute holding a big-endian uint32.
func appendAttrU32(b []byte, typ uint16, v uint32) []byte {
	b = ne.AppendUint16(b, nlaHdrLen+4)
	b = ne.AppendUint16(b, typ)
	return be.AppendUint32(b, v)
}

// verdictMsgLen is the size of a verdict message carrying the given
// optional parts.
func verdictMsgLen(setMark bool, payload int) int {
	n := nlmsgHdrLen + nfgenHdrLen + nlaHdrLen + 8
	if setMark {
		n += nlaHdrLen + 4
	}
	if payload > 0 {
		n += align4(nlaHdrLen + payload)
	}
	return n
}

// appendVerdict appends an NFQNL_MSG_VERDICT (batch false: for packet id) or
// NFQNL_MSG_VERDICT_BATCH (batch true: for every queued id up to id)
// message. A batch verdict cannot carry a payload.
func appendVerdict(b []byte, batch bool, seq uint32, queue uint16, code, id uint32, setMark bool, mark uint32, payload []byte) []byte {
	typ := uint16(typeVerdict)
	if batch {
		typ = typeVerdictBatch
		payload = nil
	}
	start := len(b)
	b = appendHeader(b, typ, nlmFRequest, seq, queue)
	b = ne.AppendUint16(b, nlaHdrLen+8)
	b = ne.AppendUint16(b, attrVerdictHdr)
	b = be.AppendUint32(b, code)
	b = be.AppendUint32(b, id)
	if setMark {
		b = appendAttrU32(b, attrMark, mark)
	}
	if len(payload) > 0 {
		b = appendAttr(b, attrPayload, payload)
	}
	finishMsg(b, start)
	return b
}

// appendConfig appends the one NFQNL_MSG_CONFIG message that binds queue
// and sets its copy mode, length and flags. The kernel checks the flags
// before it creates the queue instance and applies the rest right after,
// so the queue never runs half-configured for long.
func appendConfig(b []byte, seq uint32, queue uint16, copyRange, maxLen, flags, mask uint32) []byte {
	start := len(b)
	b = appendHeader(b, typeConfig, nlmFRequest, seq, queue)
	b = appendAttr(b, cfgCmd, []byte{cmdBind, 0, 0, 0}) // command, pad, pf AF_UNSPEC
	var params [5]byte                                  // copy_range be32, copy_mode u8 (packed)
	be.PutUint32(params[0:4], copyRange)
	params[4] = copyPacket
	b = appendAttr(b, cfgParams, params[:])
	if maxLen > 0 {
		b = appendAttrU32(b, cfgQueueLen, maxLen)
	}
	if mask != 0 {
		b = appendAttrU32(b, cfgMask, mask)
		b = appendAttrU32(b, cfgFlags, flags)
	}
	finishMsg(b, start)
	return b
}
