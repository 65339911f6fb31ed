package mpm

import "bytes"

// Scan returns the IDs of every pattern that occurs in data, each once, in no
// particular order. The returned slice is owned by s and valid until the next
// Scan with s. Scan allocates nothing once s has been used with m.
func (m *Matcher) Scan(data []byte, s *Scratch) []uint32 {
	s.out = s.out[:0]
	if len(s.stamp) < len(m.groupExact) {
		// A scratch made for another (smaller) matcher: grow it once.
		s.stamp = make([]uint32, len(m.groupExact))
		s.gen = 0
	}
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
	if m.single != nil {
		if bytes.Index(data, m.single) >= 0 {
			s.out = append(s.out, m.ids...)
		}
		return s.out
	}
	remaining := len(m.groupExact)
	if remaining == 0 {
		return s.out
	}
	m.run(data, func(v uint32, end int) bool {
		remaining -= m.report(v>>m.shift, data, end, s)
		return remaining > 0
	})
	return s.out
}

// report appends the IDs of the not yet reported groups that end at end in
// state st (and its output chain), and returns how many groups it reported.
func (m *Matcher) report(st uint32, data []byte, end int, s *Scratch) int {
	n := 0
	for ; st != noState; st = m.outLink[st] {
		for _, g := range m.outGroup[m.outOff[st]:m.outOff[st+1]] {
			if s.stamp[g] == s.gen {
				continue
			}
			if ex := m.groupExact[g]; ex != nil && !bytes.Equal(data[end-len(ex):end], ex) {
				continue
			}
			s.stamp[g] = s.gen
			s.out = append(s.out, m.ids[m.groupIDOff[g]:m.groupIDOff[g+1]]...)
			n++
		}
	}
	return n
}

// ScanFunc calls fn for every occurrence of every pattern in data, with the
// pattern's ID and the offset just past the occurrence's last byte, in order
// of end offset. Occurrences may overlap. It stops early when fn returns
// false. It allocates nothing itself and is meant for tests and tools; the
// prefilter uses Scan.
func (m *Matcher) ScanFunc(data []byte, fn func(id uint32, end int) bool) {
	if m.single != nil {
		for off := 0; off < len(data); {
			i := bytes.Index(data[off:], m.single)
			if i < 0 {
				return
			}
			end := off + i + len(m.single)
			for _, id := range m.ids {
				if !fn(id, end) {
					return
				}
			}
			off += i + 1
		}
		return
	}
	if len(m.groupExact) == 0 {
		return
	}
	m.run(data, func(v uint32, end int) bool {
		for st := v >> m.shift; st != noState; st = m.outLink[st] {
			for _, g := range m.outGroup[m.outOff[st]:m.outOff[st+1]] {
				if ex := m.groupExact[g]; ex != nil && !bytes.Equal(data[end-len(ex):end], ex) {
					continue
				}
				for _, id := range m.ids[m.groupIDOff[g]:m.groupIDOff[g+1]] {
					if !fn(id, end) {
						return false
					}
				}
			}
		}
		return true
	})
}

// run drives the automaton over data and calls hit with the state value
// (without outFlag) and the offset just past the current byte whenever it
// enters a state that has output. It stops when hit returns false.
func (m *Matcher) run(data []byte, hit func(v uint32, end int) bool) {
	dense := m.dense
	denseLim := m.denseLim
	classes := &m.classes
	v := uint32(0)
	if !m.useSkip {
		for i := 0; i < len(data); i++ {
			c := uint32(classes[data[i]])
			var t uint32
			if v < denseLim {
				t = dense[v+c]
			} else {
				t = m.next(v, uint8(c))
			}
			v = t &^ outFlag
			if t&outFlag != 0 && !hit(v, i+1) {
				return
			}
		}
		return
	}

	// With the skip filter: whenever the automaton is at depth <= 1, no
	// match is in progress except possibly one that began at the previous
	// byte, and positions where no pattern can start are passed over.
	pair := m.pair
	shallow := m.shallowLim
	n := len(data)
	for i := 0; i < n; {
		if v <= shallow && (v == 0 || !pairHas(pair, data[i-1], data[i])) {
			// The previous byte (if v is a depth-1 state) cannot continue
			// into a longer match: find the next position a pattern can
			// start at.
			k := i
			for k+1 < n && !pairHas(pair, data[k], data[k+1]) {
				k++
			}
			if k+1 >= n {
				// No pair left: only a 1-byte pattern at the last byte.
				b := data[k]
				if m.one[b>>6]&(1<<(b&63)) == 0 {
					return
				}
			}
			if k != i {
				// Every start in [i-1, k) dies within two bytes without
				// output, so the state after data[k] from the root is the
				// state the full automaton would reach.
				v, i = 0, k
			}
		}
		c := uint32(classes[data[i]])
		var t uint32
		if v < denseLim {
			t = dense[v+c]
		} else {
			t = m.next(v, uint8(c))
		}
		v = t &^ outFlag
		i++
		if t&outFlag != 0 && !hit(v, i) {
			return
		}
	}
}

func pairHas(pair *[1024]uint64, a, b byte) bool {
	x := uint(a)<<8 | uint(b)
	return pair[x>>6]&(1<<(x&63)) != 0
}
