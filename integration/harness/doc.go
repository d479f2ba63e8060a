// Package harness runs baton's integration tests against the real Docker
// engine: it builds the test app into FROM-scratch images, creates networks
// and containers for one test, runs the baton binary built from the tree, and
// removes everything it created, on failure and interrupt included.
//
// The main types are Baton (a baton process of one test, baton.go), Container
// (container.go), Load (a load generator and its Result, load.go), Pebble
// (an ACME server, pebble.go) and SocketProxy (sockproxy.go). No loop of its
// own beyond the load generator's workers.
package harness
