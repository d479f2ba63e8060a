// Package integration tests baton against the real Docker engine: real
// containers of the test app on networks the tests create, baton built from
// the tree and run on the host, real load over loopback.
package integration

import (
	"os"
	"testing"

	"github.com/batonproxy/baton/integration/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemoveImages()
	os.Exit(code)
}
