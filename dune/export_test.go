package dune

import "runtime"

// DecodeResultForTest exposes the results decoder to the external tests
// (package dune_test), which can use the emulator.
var DecodeResultForTest = decodeResult

// SettleForTest runs two garbage collections and settles what b holds for
// answers handed over before them (see the memory design in budget.go).
func SettleForTest(b *MemoryBudget) {
	runtime.GC()
	runtime.GC()
	b.expire()
}
