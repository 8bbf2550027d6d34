//go:build !race

package dune_test

const raceEnabled = false
