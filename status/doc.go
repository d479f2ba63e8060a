// Package status is the one projection of a running baton that `baton status`
// prints and the dashboard draws: both read it from GET /v1/services, so they
// never disagree. The decisions (which word a release gets, and why) are pure
// functions here; Board only gathers the parts.
//
// The main type is Board (board.go): it gathers the running parts and
// answers admin.Status; Print (print.go) writes that for the terminal, and
// verdict.go holds the pure decisions. No loop.
package status
