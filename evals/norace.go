//go:build !race

package evals

// exactBaselineBytes: response bodies up to this size have their baseline
// tokens counted exactly; larger ones are estimated from samples.
const exactBaselineBytes = 4 << 20
