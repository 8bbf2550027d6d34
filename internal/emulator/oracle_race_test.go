//go:build race

package emulator_test

// raceEnabled: under the race detector the pure-Go SQLite runs about 20
// times slower, so the oracle test generates fewer cases on the large tables.
const raceEnabled = true
