// Package setting is the syntax of values that baton.yaml and container
// labels share (a route host, an HSTS setting), so that config and the
// label parser in upstream read them alike without one importing the other.
//
// Plain functions (ParseHSTS, CheckHost): no state, no loop.
package setting
