//go:build !unix

package proxy

import (
	"net"

	"go.uber.org/zap"
)

// logUDPBuffers has nothing to read the buffer sizes with here; quic-go
// still warns through the standard logger when it cannot raise them.
func logUDPBuffers(net.PacketConn, *zap.Logger) {}
