//go:build race

package dune_test

// raceEnabled: the race detector changes what is allocated and makes the
// 100 MB page slow, so the memory-bound tests skip themselves under it.
const raceEnabled = true
