//go:build !race

package tools

// raceEnabled reports whether the race detector is on (it slows the
// tokenizer about eightfold).
const raceEnabled = false
