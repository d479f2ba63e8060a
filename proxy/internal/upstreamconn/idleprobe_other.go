//go:build !linux

package upstreamconn

import "net"

// idleProbe elsewhere than Linux cannot look at the socket without reading
// it; baton runs on Linux, so other systems reuse nothing (fail closed).
type idleProbe struct{}

func (p *idleProbe) init(net.Conn) {}
func (p *idleProbe) usable() bool  { return false }
