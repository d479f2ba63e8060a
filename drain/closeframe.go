package drain

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// closeGoingAway is the payload of a WebSocket close frame: status 1001,
// "going away" (RFC 6455 §7.4.1), no reason text.
var closeGoingAway = [2]byte{0x03, 0xE9}

// WriteGoingAway writes a WebSocket close frame with status 1001 in a single
// Write. A frame sent to the server (masked=true) must be masked (RFC 6455
// §5.3); one sent to the client must not be.
func WriteGoingAway(w io.Writer, masked bool) error {
	if !masked {
		_, err := w.Write([]byte{0x88, 0x02, closeGoingAway[0], closeGoingAway[1]})
		return err
	}
	frame := make([]byte, 8)
	frame[0], frame[1] = 0x88, 0x80|0x02 // FIN + close; MASK bit + length 2
	binary.BigEndian.PutUint32(frame[2:6], rand.Uint32())
	for i, b := range closeGoingAway {
		frame[6+i] = b ^ frame[2+i%4]
	}
	_, err := w.Write(frame)
	return err
}
