package bypass

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// linkXDP is what rtnetlink reports about an interface's XDP attachment and
// receive queues (RTM_GETLINK: IFLA_XDP, IFLA_NUM_RX_QUEUES).
type linkXDP struct {
	attached    uint8  // XDP_ATTACHED_NONE/DRV/SKB/HW/MULTI
	progID      uint32 // IFLA_XDP_PROG_ID: the program when exactly one is attached
	drvProgID   uint32 // IFLA_XDP_DRV_PROG_ID (when several modes are attached)
	skbProgID   uint32 // IFLA_XDP_SKB_PROG_ID
	numRxQueues uint32 // IFLA_NUM_RX_QUEUES; 0 if not reported
}

// XDP attach modes reported in IFLA_XDP_ATTACHED (enum in uapi if_link.h).
const (
	xdpAttachedNone  = 0
	xdpAttachedDrv   = 1
	xdpAttachedSKB   = 2
	xdpAttachedHW    = 3
	xdpAttachedMulti = 4
)

const (
	nlmsgHdrLen  = 16 // struct nlmsghdr
	ifInfoMsgLen = 16 // struct ifinfomsg
	rtaHdrLen    = 4  // struct rtattr / nlattr
	nlaTypeMask  = 0x3fff

	rtextFilterSkipStats = 1 << 3 // RTEXT_FILTER_SKIP_STATS (uapi rtnetlink.h)
)

var errNetlinkShort = errors.New("truncated netlink message")

// queryLink asks rtnetlink, in the calling thread's network namespace, for
// the XDP state and receive queue count of the interface ifindex.
func queryLink(ifname string, ifindex int) (linkXDP, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return linkXDP{}, fmt.Errorf("bypass: %s: netlink socket: %w", ifname, err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 5}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return linkXDP{}, fmt.Errorf("bypass: %s: netlink SO_RCVTIMEO: %w", ifname, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return linkXDP{}, fmt.Errorf("bypass: %s: netlink bind: %w", ifname, err)
	}

	const seq = 1
	// nlmsghdr + ifinfomsg + IFLA_EXT_MASK(RTEXT_FILTER_SKIP_STATS)
	req := make([]byte, nlmsgHdrLen+ifInfoMsgLen+8)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.RTM_GETLINK)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], seq)
	req[16] = unix.AF_UNSPEC
	ne.PutUint32(req[20:], uint32(int32(ifindex)))
	ne.PutUint16(req[32:], 8)
	ne.PutUint16(req[34:], unix.IFLA_EXT_MASK)
	ne.PutUint32(req[36:], rtextFilterSkipStats)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return linkXDP{}, fmt.Errorf("bypass: %s: netlink RTM_GETLINK send: %w", ifname, err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return linkXDP{}, fmt.Errorf("bypass: %s: netlink RTM_GETLINK receive: %w", ifname, err)
		}
		info, found, err := parseLinkReply(buf[:n], seq)
		if err != nil {
			return linkXDP{}, fmt.Errorf("bypass: %s: RTM_GETLINK: %w", ifname, err)
		}
		if found {
			return info, nil
		}
	}
}

// parseLinkReply walks the netlink messages in b and decodes the first
// RTM_NEWLINK answering seq. found is false when b holds no answer to seq.
// A netlink error message for seq is returned as its errno.
func parseLinkReply(b []byte, seq uint32) (info linkXDP, found bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return linkXDP{}, false, fmt.Errorf("%w: message length %d, %d bytes left", errNetlinkShort, l, len(b))
		}
		typ := ne.Uint16(b[4:])
		mseq := ne.Uint32(b[8:])
		msg := b[nlmsgHdrLen:l]
		next := (l + 3) &^ 3
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
		if mseq != seq {
			continue
		}
		switch typ {
		case unix.NLMSG_ERROR:
			if len(msg) < 4 {
				return linkXDP{}, false, fmt.Errorf("%w: error message of %d bytes", errNetlinkShort, len(msg))
			}
			if code := int32(ne.Uint32(msg)); code != 0 {
				return linkXDP{}, false, unix.Errno(-code)
			}
			continue
		case unix.RTM_NEWLINK:
		default:
			continue
		}
		if len(msg) < ifInfoMsgLen {
			return linkXDP{}, false, fmt.Errorf("%w: ifinfomsg of %d bytes", errNetlinkShort, len(msg))
		}
		err := walkAttrs(msg[ifInfoMsgLen:], func(typ uint16, val []byte) error {
			switch typ {
			case unix.IFLA_NUM_RX_QUEUES:
				if len(val) >= 4 {
					info.numRxQueues = ne.Uint32(val)
				}
			case unix.IFLA_XDP:
				return walkAttrs(val, func(typ uint16, val []byte) error {
					switch typ {
					case unix.IFLA_XDP_ATTACHED:
						if len(val) >= 1 {
							info.attached = val[0]
						}
					case unix.IFLA_XDP_PROG_ID:
						if len(val) >= 4 {
							info.progID = ne.Uint32(val)
						}
					case unix.IFLA_XDP_DRV_PROG_ID:
						if len(val) >= 4 {
							info.drvProgID = ne.Uint32(val)
						}
					case unix.IFLA_XDP_SKB_PROG_ID:
						if len(val) >= 4 {
							info.skbProgID = ne.Uint32(val)
						}
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return linkXDP{}, false, err
		}
		return info, true, nil
	}
	return linkXDP{}, false, nil
}

// walkAttrs calls fn for each netlink attribute in b (type without the
// nested / byte-order flags).
func walkAttrs(b []byte, fn func(typ uint16, val []byte) error) error {
	ne := binary.NativeEndian
	for len(b) >= rtaHdrLen {
		l := int(ne.Uint16(b[0:]))
		if l < rtaHdrLen || l > len(b) {
			return fmt.Errorf("%w: attribute length %d, %d bytes left", errNetlinkShort, l, len(b))
		}
		if err := fn(ne.Uint16(b[2:])&nlaTypeMask, b[rtaHdrLen:l]); err != nil {
			return err
		}
		next := (l + 3) &^ 3
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
	}
	return nil
}
