//go:build race

package ring

// raceEnabled is true under the race detector, which slows every atomic
// operation by two orders of magnitude and allocates on its own.
const raceEnabled = true
