package pcre

import "bytes"

// Backtracking stack entries.
const (
	eChoice  uint8 = iota // resume at pc with pos
	eRepG                 // greedy single-byte repeat: give back one byte per retry down to aux
	eRepL                 // lazy single-byte repeat: take one more byte per retry up to aux
	eUndo                 // restore slots[pc] = pos
	eBarrier              // atomic group / look-around; mode: kind, pos: start, pc: continuation, aux: previous barrier
)

type entry struct {
	kind uint8
	mode uint8
	pc   int32
	pos  int
	aux  int
}

func (re *Regexp) assert(kind uint8, data []byte, pos, from int) bool {
	n := len(data)
	switch kind {
	case asBeginText:
		return pos == 0
	case asBeginLine:
		return pos == 0 || data[pos-1] == '\n' && pos < n
	case asEndText:
		return pos == n
	case asEndTextOptNL:
		return pos == n || pos == n-1 && data[pos] == '\n'
	case asEndLine:
		return pos == n || data[pos] == '\n'
	case asWordB, asNotWordB:
		a := pos > 0 && isWord(data[pos-1])
		b := pos < n && isWord(data[pos])
		return (a != b) == (kind == asWordB)
	case asStartOffset:
		return pos == from
	}
	return false
}

// exec runs the program with the match starting at start. It returns 1 on
// a match (slots hold the captures), 0 for no match here, -1 when a limit
// was exceeded.
func (re *Regexp) exec(s *Scratch, data []byte, from, start int) int {
	prog := re.prog
	slots := s.slots
	for i := range slots {
		slots[i] = -1
	}
	slots[0] = start
	matchLimit := s.matchLimit
	if matchLimit <= 0 {
		matchLimit = int(^uint(0) >> 1)
	}
	depthLimit := s.depthLimit
	if depthLimit <= 0 {
		depthLimit = int(^uint(0) >> 1)
	}
	stack := s.stack[:0]
	budget := s.budget
	top := -1 // innermost open barrier
	steps := 0
	pc, pos := 0, start
	n := len(data)

run:
	for {
		in := &prog[pc]
		budget--
		if budget < 0 {
			s.stack, s.budget = stack[:0], budget
			return -1
		}
		switch in.op {
		case opByte:
			if pos < n && data[pos] == byte(in.a) {
				pos++
				pc++
				continue run
			}
		case opByteFold:
			if pos < n && lower(data[pos]) == byte(in.a) {
				pos++
				pc++
				continue run
			}
		case opString:
			l := int(in.b)
			if n-pos >= l && bytes.Equal(data[pos:pos+l], re.lits[in.a:int(in.a)+l]) {
				pos += l
				pc++
				continue run
			}
		case opStringFold:
			l := int(in.b)
			if n-pos >= l && eqFold(data[pos:pos+l], re.lits[in.a:int(in.a)+l]) {
				pos += l
				pc++
				continue run
			}
		case opSet:
			if pos < n && re.sets[in.a][data[pos]] {
				pos++
				pc++
				continue run
			}
		case opRepeat:
			set := &re.sets[in.a]
			min := int(in.b)
			lim := n - pos
			if in.c >= 0 && int(in.c) < lim {
				lim = int(in.c)
			}
			if lim < min {
				break
			}
			if in.mode == repLazy {
				k := 0
				for k < min && set[data[pos+k]] {
					k++
				}
				if k < min {
					break
				}
				if lim > min {
					if len(stack) >= depthLimit {
						s.stack, s.budget = stack[:0], budget
						return -1
					}
					stack = append(stack, entry{kind: eRepL, pc: int32(pc), pos: pos + min, aux: pos + lim})
				}
				pos += min
				pc++
				continue run
			}
			k := 0
			for k < lim && set[data[pos+k]] {
				k++
			}
			budget -= k
			if k < min {
				break
			}
			if k > min && in.mode == repGreedy {
				if len(stack) >= depthLimit {
					s.stack, s.budget = stack[:0], budget
					return -1
				}
				stack = append(stack, entry{kind: eRepG, pc: int32(pc), pos: pos + k, aux: pos + min})
			}
			pos += k
			pc++
			continue run
		case opSplit:
			steps++
			if steps > matchLimit || len(stack) >= depthLimit {
				s.stack, s.budget = stack[:0], budget
				return -1
			}
			stack = append(stack, entry{kind: eChoice, pc: in.b, pos: pos})
			pc = int(in.a)
			continue run
		case opJmp:
			pc = int(in.a)
			continue run
		case opSave:
			stack = append(stack, entry{kind: eUndo, pc: in.a, pos: slots[in.a]})
			slots[in.a] = pos
			pc++
			continue run
		case opCheckProg:
			if slots[in.a] == pos {
				pc = int(in.b)
			} else {
				pc++
			}
			continue run
		case opAssert:
			if re.assert(in.mode, data, pos, from) {
				pc++
				continue run
			}
		case opBackref:
			gs, ge := slots[2*in.a], slots[2*in.a+1]
			if gs < 0 || ge < 0 {
				break // an unset group never matches
			}
			l := ge - gs
			budget -= l
			if n-pos < l {
				break
			}
			if in.mode == 1 {
				if !eqFoldBoth(data[pos:pos+l], data[gs:ge]) {
					break
				}
			} else if !bytes.Equal(data[pos:pos+l], data[gs:ge]) {
				break
			}
			pos += l
			pc++
			continue run
		case opAtomic, opLook:
			if len(stack) >= depthLimit {
				s.stack, s.budget = stack[:0], budget
				return -1
			}
			stack = append(stack, entry{kind: eBarrier, mode: in.mode, pc: in.b, pos: pos, aux: top})
			top = len(stack) - 1
			pc++
			continue run
		case opBack:
			if pos >= int(in.a) {
				pos -= int(in.a)
				pc++
				continue run
			}
		case opCut:
			b := top
			be := stack[b]
			top = be.aux
			if be.mode == bLookNeg {
				// The negated body matched: undo what it did and fail.
				for j := len(stack) - 1; j > b; j-- {
					if stack[j].kind == eUndo {
						slots[stack[j].pc] = stack[j].pos
					}
				}
				stack = stack[:b]
				break
			}
			// Drop the choice points inside, keep the capture undo records.
			w := b
			for j := b + 1; j < len(stack); j++ {
				if stack[j].kind == eUndo {
					stack[w] = stack[j]
					w++
				}
			}
			stack = stack[:w]
			if be.mode == bLookPos {
				pos = be.pos
			}
			pc++
			continue run
		case opMatch:
			slots[1] = pos
			s.stack, s.budget = stack[:0], budget
			return 1
		}

		// Failure: backtrack to the most recent choice point.
		for {
			if len(stack) == 0 {
				s.stack, s.budget = stack[:0], budget
				return 0
			}
			e := &stack[len(stack)-1]
			switch e.kind {
			case eUndo:
				slots[e.pc] = e.pos
				stack = stack[:len(stack)-1]
			case eChoice:
				pc, pos = int(e.pc), e.pos
				stack = stack[:len(stack)-1]
				continue run
			case eRepG:
				steps++
				if steps > matchLimit {
					s.stack, s.budget = stack[:0], budget
					return -1
				}
				np := e.pos - 1
				if h := prog[e.pc].next; h >= 0 {
					for np > e.aux && data[np] != byte(h) {
						np--
					}
					if np < n && data[np] != byte(h) {
						stack = stack[:len(stack)-1] // no position left where the literal fits
						continue
					}
				}
				pc, pos = int(e.pc)+1, np
				if np <= e.aux {
					stack = stack[:len(stack)-1]
				} else {
					e.pos = np
				}
				continue run
			case eRepL:
				steps++
				if steps > matchLimit {
					s.stack, s.budget = stack[:0], budget
					return -1
				}
				p := e.pos
				if p < e.aux && re.sets[prog[e.pc].a][data[p]] {
					pc, pos = int(e.pc)+1, p+1
					if p+1 >= e.aux {
						stack = stack[:len(stack)-1]
					} else {
						e.pos = p + 1
					}
					continue run
				}
				stack = stack[:len(stack)-1]
			case eBarrier:
				top = e.aux
				mode, cont, at := e.mode, e.pc, e.pos
				stack = stack[:len(stack)-1]
				if mode == bLookNeg {
					// The negated body failed: the assertion holds.
					pc, pos = int(cont), at
					continue run
				}
			}
		}
	}
}

// eqFoldBoth compares a and b without ASCII case.
func eqFoldBoth(a, b []byte) bool {
	for i := range b {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}
