//go:build race

package gen

// raceEnabled: the race detector slows everything several times over, so
// rate measurements mean nothing.
const raceEnabled = true
