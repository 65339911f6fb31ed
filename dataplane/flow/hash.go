package flow

import (
	"encoding/binary"
	"math/bits"
)

// DefaultSeed is the seed Hash uses. Tables pick a random seed unless their
// Config sets one, so an attacker cannot precompute colliding keys.
const DefaultSeed uint64 = 0x243f6a8885a308d3

// Odd 64-bit constants with well-mixed bits, used to whiten the inputs of the
// multiply-fold rounds.
const (
	hk1 = 0xa0761d6478bd642f
	hk2 = 0xe7037ed1a0b428db
	hk3 = 0x8ebc6af09c88c6e3
	hk4 = 0x589965cc75374cc3
	hk5 = 0x1d8e4e27c47d124f
)

// mum multiplies a and b to 128 bits and folds the halves: the mixing step of
// wyhash-style hashes.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// Hash returns the symmetric hash of k with DefaultSeed: both directions of
// one connection hash alike.
func Hash(k *Key) uint32 { return HashSeed(k, DefaultSeed) }

// HashSeed returns the symmetric hash of k under seed. The two endpoints
// (address, port) are put in a canonical order first, so k and k.Reverse()
// hash alike; the rest is a seeded multiply-fold over 64-bit words.
func HashSeed(k *Key, seed uint64) uint32 {
	a0 := binary.BigEndian.Uint64(k.Src[:8])
	a1 := binary.BigEndian.Uint64(k.Src[8:])
	b0 := binary.BigEndian.Uint64(k.Dst[:8])
	b1 := binary.BigEndian.Uint64(k.Dst[8:])
	pa, pb := k.SrcPort, k.DstPort
	if b0 < a0 || (b0 == a0 && (b1 < a1 || (b1 == a1 && pb < pa))) {
		a0, a1, b0, b1 = b0, b1, a0, a1
		pa, pb = pb, pa
	}
	x := uint64(pa)<<48 | uint64(pb)<<32 | uint64(k.VLAN[0])<<16 | uint64(k.VLAN[1])
	y := uint64(k.Proto)<<8 | uint64(k.Family)
	s := seed ^ hk1
	s = mum(a0^hk2, a1^s)
	s = mum(b0^hk3, b1^s)
	s = mum(x^hk4, y^s)
	s = mum(s^hk5, hk2)
	return uint32(s ^ s>>32)
}
