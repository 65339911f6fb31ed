//go:build race

package mpm

const raceOn = true
