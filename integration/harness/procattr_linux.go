package harness

import (
	"os/exec"
	"syscall"
)

// dieWithTestBinary has the kernel SIGKILL the child when the test binary
// dies, so a test binary killed by -timeout or SIGKILL leaves no baton behind.
func dieWithTestBinary(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
