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
