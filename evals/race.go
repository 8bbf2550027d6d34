//go:build race

package evals

// Under the race detector the tokenizer runs several times slower; the
// baseline (informational, not an assertion) of bodies over 64 KiB is then
// estimated from samples. Token counts that are asserted stay exact.
const exactBaselineBytes = 64 << 10
