//go:build !unix

package h1

// firstRead on a system without raw socket reads: one byte, then the rest
// through the reader (one more read per request than on unix).
func (c *serverConn) firstRead() (*connBuffers, []byte, error) { return c.firstReadByte() }
