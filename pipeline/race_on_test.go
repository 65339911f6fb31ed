//go:build race

package pipeline

// raceEnabled: the race detector slows the long tests down ~10x.
const raceEnabled = true
