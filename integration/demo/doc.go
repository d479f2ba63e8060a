// Command demo shows baton's main job in one command (make demo): it builds
// baton and the test app, starts baton, runs release aaaaaaa of a web service,
// deploys bbbbbbb while a load generator runs, prints the live timeline and a
// load report, and removes everything it created.
package main
