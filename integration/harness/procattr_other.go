//go:build !linux

package harness

import "os/exec"

// dieWithTestBinary: only Linux can tie a child's life to its parent.
func dieWithTestBinary(cmd *exec.Cmd) {}
