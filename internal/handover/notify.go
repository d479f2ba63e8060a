package handover

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Notify sends state to the service manager (sd_notify(3)): "READY=1" when
// serving, "MAINPID=n" when an upgrade's child takes over (the unit needs
// NotifyAccess=all for a message from a process that is not yet its main
// one). Without $NOTIFY_SOCKET it does nothing.
func Notify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", os.Getenv("NOTIFY_SOCKET"), err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", os.Getenv("NOTIFY_SOCKET"), err)
	}
	return nil
}
