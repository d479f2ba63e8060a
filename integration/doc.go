// Package integration tests baton against the real Docker engine: real
// containers of the test app on networks the tests create, baton built from
// the tree and run on the host, real load over loopback.
//
// Its helpers are in integration/harness; the test app is integration/testapp.
// Each test is its own scenario; there is no shared loop.
package integration
