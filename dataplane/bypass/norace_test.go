//go:build !race

package bypass

const raceEnabled = false
