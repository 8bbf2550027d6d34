package dune

// DecodeResultForTest exposes the results decoder to the external tests
// (package dune_test), which can use the emulator.
var DecodeResultForTest = decodeResult
