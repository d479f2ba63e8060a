package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// relay copies an upgraded connection both ways. A WebSocket of a chat or a
// dashboard is idle most of its life, so each direction waits for bytes
// holding no copy buffer: it takes one from relayBuffers when its socket has
// data and gives it back as soon as the socket has no more (readRaw). The
// handler's goroutine, which the fast path keeps until the relay ends,
// copies one direction; one more goroutine, fresh and small, the other.
type relay struct {
	client     net.Conn
	backend    io.ReadWriteCloser
	fromClient relaySource
	toBackend  relaySource
	websocket  bool
	logger     *zap.Logger

	// clientMu and backendMu serialise writes to each side between the copy
	// loops and EndGracefully, so a close frame never lands inside a relayed write.
	clientMu, backendMu sync.Mutex
	ending              sync.Once
	done                chan struct{}
}

// relaySource is one direction's reader.
type relaySource struct {
	ahead []byte    // bytes read before the relay began (a bufio reader's leftovers)
	r     io.Reader // read with a pooled buffer held while it blocks, when raw is nil
	// raw is the plain TCP socket: waited on with no buffer held.
	raw syscall.RawConn
	// tls, with raw its TCP socket, is a TLS connection whose records are
	// waited for on the socket (readTLS).
	tls *tls.Conn
}

// newRelaySource reads conn, after ahead. Bytes buffered in br (bytes a peer
// sent right behind its head) are copied out, so that br can be dropped.
func newRelaySource(conn io.Reader, br *bufio.Reader) relaySource {
	s := relaySource{r: conn}
	if br != nil {
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			s.ahead = append([]byte(nil), b...)
		}
	}
	if u, ok := conn.(interface {
		NetConn() net.Conn
		TakeAhead() []byte
	}); ok {
		// The upstream's connection after its 101 (upstreamconn): read the
		// socket itself, after what its reader had buffered.
		s.ahead = append(s.ahead, u.TakeAhead()...)
		conn = u.NetConn()
		s.r = conn
	}
	switch c := conn.(type) {
	case *net.TCPConn:
		s.raw = rawSocket(c)
	case *tls.Conn:
		if tc, ok := c.NetConn().(*net.TCPConn); ok {
			if s.raw = rawSocket(tc); s.raw != nil {
				s.tls = c
			}
		}
	}
	return s
}

// relayBufferSize is a copy buffer's size: a TLS record's plaintext at most
// (RFC 8446 §5.1), so one read takes a whole record.
const relayBufferSize = 16 << 10

var (
	relayBuffers = sync.Pool{New: func() any { b := make([]byte, relayBufferSize); return &b }}
	// relayBuffersHeld counts the copy buffers relays hold now: the idle
	// ones hold none.
	relayBuffersHeld atomic.Int64
)

func getRelayBuffer() *[]byte {
	relayBuffersHeld.Add(1)
	return relayBuffers.Get().(*[]byte)
}

func putRelayBuffer(bp *[]byte) {
	relayBuffersHeld.Add(-1)
	relayBuffers.Put(bp)
}

// RelayBuffersHeld is how many copy buffers upgraded connections hold at
// this moment (a relay holds one only while bytes pass).
func RelayBuffersHeld() int64 { return relayBuffersHeld.Load() }

func (rl *relay) run() {
	errc := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				rl.logger.Error("upgraded connection relay panicked", zap.Any("panic", p), zap.Stack("stack"))
				errc <- io.ErrUnexpectedEOF
			}
		}()
		// The client's bytes go to the backend, a plain socket most often:
		// the write is shallow, and so this goroutine's stack stays small.
		errc <- pump(lockedWriter{&rl.backendMu, rl.backend}, &rl.fromClient)
	}()
	_ = pump(lockedWriter{&rl.clientMu, rl.client}, &rl.toBackend)
	// One side ended: close both so the other copy loop ends too.
	rl.client.Close()
	rl.backend.Close()
	<-errc
	close(rl.done)
}

// pump copies src to dst until src ends or a write fails.
func pump(dst io.Writer, src *relaySource) error {
	if len(src.ahead) > 0 {
		ahead := src.ahead
		src.ahead = nil
		if _, err := dst.Write(ahead); err != nil {
			return err
		}
	}
	for {
		bp, n, err := src.read()
		if n > 0 {
			if _, werr := dst.Write((*bp)[:n]); werr != nil {
				putRelayBuffer(bp)
				return werr
			}
		}
		if bp != nil {
			putRelayBuffer(bp)
		}
		if err != nil {
			return err
		}
	}
}

// read waits for the next bytes and returns them in a pooled buffer (nil
// when there are none), which the caller gives back.
func (s *relaySource) read() (*[]byte, int, error) {
	switch {
	case s.raw != nil && s.tls != nil:
		return s.readTLS()
	case s.raw != nil:
		return s.readRaw()
	}
	bp := getRelayBuffer()
	n, err := s.r.Read(*bp)
	return bp, n, err
}

// aLongTimeAgo is a deadline in the past: a read under it returns at once.
var aLongTimeAgo = time.Unix(1, 0)

// readTLS reads a TLS connection holding no buffer while the client is
// quiet. crypto/tls may hold whole records it read ahead of the last Read,
// and those never wake the socket's poller: so a Read under a deadline
// already past comes first, which gives what is buffered or times out at
// once (a timeout leaves crypto/tls able to go on: it is temporary); only
// then does the relay wait on the socket, peeking, with no buffer.
func (s *relaySource) readTLS() (*[]byte, int, error) {
	bp := getRelayBuffer()
	_ = s.tls.SetReadDeadline(aLongTimeAgo)
	n, err := s.tls.Read(*bp)
	_ = s.tls.SetReadDeadline(time.Time{})
	if n > 0 || !isTimeout(err) {
		return bp, n, err
	}
	putRelayBuffer(bp)
	if werr := s.waitReadable(); werr != nil {
		return nil, 0, werr
	}
	bp = getRelayBuffer()
	n, err = s.tls.Read(*bp)
	return bp, n, err
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// EndGracefully sends a WebSocket close frame with status 1001 (going away) to
// both peers, then closes the connection. Other protocols are closed.
func (rl *relay) EndGracefully() {
	rl.ending.Do(func() {
		if rl.websocket {
			rl.clientMu.Lock()
			_ = rl.client.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = rl.client.Write(closeFrameGoingAway(false))
			rl.clientMu.Unlock()
			rl.backendMu.Lock()
			_, _ = rl.backend.Write(closeFrameGoingAway(true))
			rl.backendMu.Unlock()
		}
		rl.client.Close()
		rl.backend.Close()
	})
	<-rl.done
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// closeFrameGoingAway is a WebSocket close frame with status 1001. Frames a
// client sends must be masked (RFC 6455 §5.3); the zero mask keeps the payload as is.
func closeFrameGoingAway(masked bool) []byte {
	if masked {
		return []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE9}
	}
	return []byte{0x88, 0x02, 0x03, 0xE9}
}
