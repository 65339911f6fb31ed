//go:build hyperscan

package mpm

/*
#cgo pkg-config: libhs
#include <stdlib.h>
#include <hs.h>

// vg_hits collects the ids Hyperscan reports during one scan. It lives in C
// memory so the match callback stays in C (no C-to-Go transition per match)
// and the scan passes no Go pointer but the data buffer.
typedef struct {
	unsigned int *ids;
	unsigned int n;
	unsigned int cap;
} vg_hits;

static int vg_on_match(unsigned int id, unsigned long long from,
                       unsigned long long to, unsigned int flags, void *ctx) {
	vg_hits *h = (vg_hits *)ctx;
	if (h->n < h->cap) {
		h->ids[h->n++] = id;
	}
	return 0;
}

static hs_error_t vg_scan(const hs_database_t *db, const char *data,
                          unsigned int len, hs_scratch_t *scratch, vg_hits *h) {
	h->n = 0;
	return hs_scan(db, data, len, 0, scratch, vg_on_match, h);
}

// vg_compile compiles literals; on a compiler error it copies the message
// and the offending expression index into msg/bad and frees the error.
static hs_error_t vg_compile(const char *const *exprs, const unsigned *flags,
                             const unsigned *ids, const size_t *lens,
                             unsigned n, hs_database_t **db, char *msg,
                             size_t msglen, int *bad) {
	hs_compile_error_t *err = NULL;
	hs_error_t rc = hs_compile_lit_multi(exprs, flags, ids, lens, n,
	                                     HS_MODE_BLOCK, NULL, db, &err);
	if (err != NULL) {
		size_t i = 0;
		if (err->message != NULL) {
			for (; i + 1 < msglen && err->message[i] != 0; i++) {
				msg[i] = err->message[i];
			}
		}
		msg[i] = 0;
		*bad = err->expression;
		hs_free_compile_error(err);
	}
	return rc;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// HSMatcher is a pattern set compiled with Hyperscan (Intel's SIMD regex
// engine, libhs). It has the same semantics as Matcher (Scan reports each
// occurring pattern's ID once) and is only built with the build tag
// hyperscan, which needs libhyperscan-dev (pkg-config libhs >= 5.2).
//
// Patterns are compiled with the literal API (hs_compile_lit_multi), one
// Hyperscan expression per group of patterns with identical bytes and case
// mode, flagged HS_FLAG_SINGLEMATCH (each reported at most once per scan)
// and HS_FLAG_CASELESS when NoCase is set.
//
// An HSMatcher is immutable and safe for concurrent use, each goroutine
// with its own HSScratch. The C memory is released by Close, or by the
// garbage collector once the matcher is unreachable.
type HSMatcher struct {
	db         *C.hs_database_t // nil for an empty set
	closed     bool
	npat       int
	ngroups    int
	groupIDOff []uint32 // caller ids of group g: ids[groupIDOff[g]:groupIDOff[g+1]]
	ids        []uint32
	cleanup    runtime.Cleanup
}

// HSScratch is per-goroutine scan state for an HSMatcher: Hyperscan scratch
// space, the C-side hit buffer and the result slice.
type HSScratch struct {
	m       *HSMatcher
	scratch *C.hs_scratch_t
	hits    *C.vg_hits
	out     []uint32
	closed  bool
	cleanup runtime.Cleanup
}

// CompileHyperscan builds a Hyperscan matcher for patterns. It fails like
// Compile on an empty pattern or a repeated ID, and with the Hyperscan
// compiler's message if libhs rejects the set.
func CompileHyperscan(patterns []Pattern) (*HSMatcher, error) {
	groups, err := groupPatterns(patterns)
	if err != nil {
		return nil, err
	}
	n := len(groups)
	if n == 0 {
		// Hyperscan rejects an empty database; an empty set matches nothing.
		return &HSMatcher{groupIDOff: []uint32{0}}, nil
	}
	// All arrays handed to C live in C memory (they hold C pointers).
	exprs := (*[1 << 30]*C.char)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:n:n]
	flags := (*[1 << 30]C.uint)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.uint(0)))))[:n:n]
	hsIDs := (*[1 << 30]C.uint)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.uint(0)))))[:n:n]
	lens := (*[1 << 30]C.size_t)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.size_t(0)))))[:n:n]
	defer func() {
		for _, e := range exprs {
			C.free(unsafe.Pointer(e))
		}
		C.free(unsafe.Pointer(&exprs[0]))
		C.free(unsafe.Pointer(&flags[0]))
		C.free(unsafe.Pointer(&hsIDs[0]))
		C.free(unsafe.Pointer(&lens[0]))
	}()
	m := &HSMatcher{npat: len(patterns), ngroups: n}
	m.groupIDOff = make([]uint32, n+1)
	m.ids = make([]uint32, 0, len(patterns))
	for g, gr := range groups {
		b := gr.exact
		f := C.uint(C.HS_FLAG_SINGLEMATCH)
		if b == nil {
			b = gr.folded
			f |= C.HS_FLAG_CASELESS
		}
		exprs[g] = (*C.char)(C.CBytes(b))
		flags[g] = f
		hsIDs[g] = C.uint(g)
		lens[g] = C.size_t(len(b))
		m.groupIDOff[g] = uint32(len(m.ids))
		m.ids = append(m.ids, gr.ids...)
	}
	m.groupIDOff[n] = uint32(len(m.ids))

	var msg [256]C.char
	var bad C.int
	rc := C.vg_compile(&exprs[0], &flags[0], &hsIDs[0], &lens[0], C.uint(n), &m.db, &msg[0], C.size_t(len(msg)), &bad)
	if rc != C.HS_SUCCESS {
		if rc == C.HS_COMPILER_ERROR {
			if bad >= 0 && int(bad) < n {
				id := m.ids[m.groupIDOff[bad]]
				return nil, fmt.Errorf("mpm: hyperscan: pattern id %d: %s", id, C.GoString(&msg[0]))
			}
			return nil, fmt.Errorf("mpm: hyperscan: compile: %s", C.GoString(&msg[0]))
		}
		return nil, fmt.Errorf("mpm: hyperscan: compile failed with error %d", int(rc))
	}
	m.cleanup = runtime.AddCleanup(m, func(db *C.hs_database_t) { C.hs_free_database(db) }, m.db)
	return m, nil
}

// Len returns the number of patterns compiled into m.
func (m *HSMatcher) Len() int { return m.npat }

// MemBytes returns the size of the Hyperscan database plus the id tables.
func (m *HSMatcher) MemBytes() int {
	var sz C.size_t
	if m.db != nil {
		C.hs_database_size(m.db, &sz)
	}
	return int(sz) + 4*(len(m.groupIDOff)+len(m.ids))
}

// Close frees the database now. m must not be used afterwards.
func (m *HSMatcher) Close() {
	if m.db != nil {
		m.cleanup.Stop()
		C.hs_free_database(m.db)
		m.db = nil
	}
	m.closed = true
}

// NewScratch allocates scan state for m (Hyperscan scratch space plus a
// hit buffer with room for every group).
func (m *HSMatcher) NewScratch() (*HSScratch, error) {
	if m.closed {
		return nil, fmt.Errorf("mpm: hyperscan: NewScratch on a closed matcher")
	}
	if m.db == nil {
		return &HSScratch{m: m}, nil
	}
	var sc *C.hs_scratch_t
	if rc := C.hs_alloc_scratch(m.db, &sc); rc != C.HS_SUCCESS {
		return nil, fmt.Errorf("mpm: hyperscan: hs_alloc_scratch failed with error %d", int(rc))
	}
	h := (*C.vg_hits)(C.malloc(C.size_t(unsafe.Sizeof(C.vg_hits{}))))
	h.ids = (*C.uint)(C.malloc(C.size_t(m.ngroups) * C.size_t(unsafe.Sizeof(C.uint(0)))))
	h.n = 0
	h.cap = C.uint(m.ngroups)
	s := &HSScratch{m: m, scratch: sc, hits: h, out: make([]uint32, 0, len(m.ids))}
	type cres struct {
		sc *C.hs_scratch_t
		h  *C.vg_hits
	}
	s.cleanup = runtime.AddCleanup(s, func(r cres) {
		C.hs_free_scratch(r.sc)
		C.free(unsafe.Pointer(r.h.ids))
		C.free(unsafe.Pointer(r.h))
	}, cres{sc, h})
	return s, nil
}

// Close frees the scratch's C memory now. s must not be used afterwards.
func (s *HSScratch) Close() {
	if s.scratch != nil {
		s.cleanup.Stop()
		C.hs_free_scratch(s.scratch)
		C.free(unsafe.Pointer(s.hits.ids))
		C.free(unsafe.Pointer(s.hits))
		s.scratch, s.hits = nil, nil
	}
	s.closed = true
}

// Scan returns the IDs of every pattern that occurs in data, each once, in
// no particular order. The slice is owned by s and valid until the next
// Scan with s. Scan allocates nothing. It panics if s was made by another
// matcher, was closed, or is used by two goroutines at once (misuse, never
// a property of data).
func (m *HSMatcher) Scan(data []byte, s *HSScratch) []uint32 {
	if s.m != m || m.closed || s.closed {
		panic("mpm: hyperscan: Scan with a scratch of another or a closed matcher")
	}
	s.out = s.out[:0]
	if len(data) == 0 || m.db == nil {
		return s.out
	}
	if uint64(len(data)) > uint64(^C.uint(0)) {
		panic("mpm: hyperscan: buffer larger than 4 GiB")
	}
	rc := C.vg_scan(m.db, (*C.char)(unsafe.Pointer(&data[0])), C.uint(len(data)), s.scratch, s.hits)
	runtime.KeepAlive(data)
	if rc != C.HS_SUCCESS {
		panic(fmt.Sprintf("mpm: hyperscan: hs_scan failed with error %d", int(rc)))
	}
	hits := unsafe.Slice(s.hits.ids, int(s.hits.n))
	for _, g := range hits {
		s.out = append(s.out, m.ids[m.groupIDOff[g]:m.groupIDOff[g+1]]...)
	}
	return s.out
}
