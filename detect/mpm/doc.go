// Package mpm is the multi-pattern matcher the detection engine uses as its
// prefilter: given a set of byte strings (each case-sensitive or ASCII
// case-insensitive), Scan reports which of them occur in a buffer.
//
// # Algorithm
//
// Aho-Corasick, compiled to a DFA over byte classes. The automaton is built
// on case-folded (ASCII lower-case) strings, so a case-insensitive pattern
// and a case-sensitive one with the same folded bytes end in the same state.
// Patterns with identical bytes and case mode form one group with one output
// entry. When a case-sensitive group's state is reached, its exact bytes are
// compared at the end position before it is reported.
//
// Byte classes: every folded byte value that occurs in some pattern has its
// own class and all other bytes share class 0 (in an Aho-Corasick automaton
// two used bytes can never be merged, so this is the smallest partition).
// Upper-case letters map to their lower-case class.
//
// # Memory layout
//
// States are numbered breadth-first. A transition is stored as the target
// state's id shifted left by log2 of the row stride (nc rounded up to a power
// of two), so for a dense target it is directly the offset of its row: the
// scan loop is one table load, an add and a flag test per byte. The first
// states, up to a budget of 32 MiB of transition rows, have a dense row (a
// full DFA: no failure links are followed). Deeper states keep only their
// goto edges (sorted class/target pairs) and a failure link; a scan that
// misses in a sparse state follows failure links, which always lead to
// shallower states, until it reaches a dense one. Every transition carries
// a flag bit telling whether its target has output, so the scan loop does
// one load and one test per byte in the common case.
//
// Why: a full dense DFA for the ET Open fast-pattern set (several hundred
// thousand states times about 200 classes times 4 bytes) would take hundreds
// of megabytes and seconds to build, and most of it would never be touched:
// on real traffic the automaton spends nearly all of its time within the
// first few levels of the trie, which are exactly the dense states. Small
// sets (the usual per-signature-group matcher) fit the budget entirely and
// are a plain DFA.
//
// Measured on this project's machine (2 shared vCPUs) with the ET Open
// rules: one fast pattern per rule gives about 24k patterns, 210k states and
// 231 classes; all contents give 58k patterns and 285k states. Both compile
// in 0.06-0.16 s on an idle machine (up to 2 s when the cores are contended)
// into about 37-39 MB (32768 dense states, the rest
// sparse). Shrinking the dense part to a few hundred states costs only a few
// percent of throughput on real payloads, which confirms that the scan lives
// in the shallow states.
//
// # Skip filter
//
// When the automaton is at depth <= 1 (the root or one of its children), no
// match is in progress except possibly one that began at the previous byte.
// From there the scan looks only at an 8 KiB bitmap of the byte pairs that
// can start a pattern (all case variants, plus every pair beginning with a
// 1-byte pattern) and jumps to the next position where one starts, restarting
// the automaton at the root. These lookups are independent of each other, so
// they run much faster than the dependent chain of DFA loads. The filter is
// left off when more than 30% of all pairs can start a pattern.
//
// Fast paths: a set that is one case-sensitive string (possibly under
// several IDs) is searched with bytes.Index. A scan stops as soon as every
// group has been reported.
//
// # Hyperscan
//
// Built with the tag hyperscan (needs libhyperscan-dev, pkg-config libhs
// >= 5.2), the package also has HSMatcher: the same Compile / NewScratch /
// Scan contract on Intel's Hyperscan, through a small cgo binding of its
// own (literal API, HS_FLAG_CASELESS per nocase pattern, HS_FLAG_SINGLEMATCH,
// match callback in C writing into a C buffer, so Scan makes no Go callback
// and allocates nothing). BenchmarkCompare runs ours, Hyperscan (this
// binding and github.com/flier/gohs) and two Go Aho-Corasick libraries
// side by side on the ET Open contents; bench/mpm.md has the numbers.
//
// # Concurrency and allocation
//
// A Matcher is immutable and may be shared by any number of goroutines.
// Each goroutine owns a Scratch, which holds the result slice and a
// generation-stamped array that marks groups already reported in the current
// scan, so nothing is cleared between scans and Scan allocates nothing.
package mpm
