package nfqueue

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseQueues parses a queue list in the style of iptables' --queue-num and
// --queue-balance: comma-separated queue numbers and inclusive ranges, e.g.
// "2", "0:3" (queues 0, 1, 2, 3) or "0:1,4". The result is in the order
// given; a queue listed twice is an error. Open one Source per queue (one
// per worker). Errors wrap ErrQueueList and quote the part at fault.
func ParseQueues(s string) ([]uint16, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty list", ErrQueueList)
	}
	var out []uint16
	seen := make(map[uint16]bool)
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		if p == "" {
			return nil, fmt.Errorf("%w %q: empty element", ErrQueueList, s)
		}
		lo, hi := p, p
		if i := strings.IndexByte(p, ':'); i >= 0 {
			lo, hi = strings.TrimSpace(p[:i]), strings.TrimSpace(p[i+1:])
		}
		a, err := parseQueueNum(lo)
		if err != nil {
			return nil, fmt.Errorf("%w %q: element %q: %v", ErrQueueList, s, p, err)
		}
		b, err := parseQueueNum(hi)
		if err != nil {
			return nil, fmt.Errorf("%w %q: element %q: %v", ErrQueueList, s, p, err)
		}
		if a > b {
			return nil, fmt.Errorf("%w %q: element %q: range start %d above end %d", ErrQueueList, s, p, a, b)
		}
		for q := a; ; q++ {
			if seen[uint16(q)] {
				return nil, fmt.Errorf("%w %q: element %q: queue %d listed twice", ErrQueueList, s, p, q)
			}
			seen[uint16(q)] = true
			out = append(out, uint16(q))
			if q == b {
				break
			}
		}
	}
	return out, nil
}

func parseQueueNum(s string) (uint32, error) {
	if s == "" {
		return 0, fmt.Errorf("missing queue number")
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad queue number %q", s)
	}
	if v > 65535 {
		return 0, fmt.Errorf("queue number %d above 65535", v)
	}
	return uint32(v), nil
}
