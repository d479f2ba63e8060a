// Package health decides when a container may take traffic: readiness that
// holds for min_healthy without a failure, reached within a deadline, and a
// container that neither exits nor crash-loops meanwhile.
//
// The main types are Decider (decide.go: a pure decision, observation in,
// verdict out, no clock), Gate (gate.go: the thin loop that probes, feeds the
// Decider and stops at its verdict, Gate.Run) and Probe (probe.go: one HTTP
// readiness check).
package health
