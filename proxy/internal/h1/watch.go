package h1

import (
	"errors"
	"net"
	"sync"
	"time"
)

// clientWatch notices a client that leaves while the handler waits on the
// upstream (net/http notices it with a background read on every request,
// and cancels the request's context). It reads the connection only once the
// handler has run for clientWatchDelay: a fast exchange costs a timer reset
// and stop, not a read.
type clientWatch struct {
	c     *serverConn
	timer *time.Timer
	mu    sync.Mutex
	state watchState
	done  chan struct{}
}

type watchState uint8

const (
	watchOff      watchState = iota
	watchArmed               // the timer may start a read
	watchReading             // a read is under way
	watchAborting            // the handler ended: the read is being interrupted
	watchEnded               // the read ended by itself (a byte came, or the client left)
)

func (w *clientWatch) init(c *serverConn) {
	w.c = c
	w.done = make(chan struct{}, 1)
	w.timer = time.AfterFunc(time.Hour, w.read)
	w.timer.Stop()
}

func (w *clientWatch) arm() {
	w.mu.Lock()
	w.state = watchArmed
	w.mu.Unlock()
	w.timer.Reset(clientWatchDelay)
}

// read runs on the timer's goroutine: it waits for the client's next byte. A
// byte (a pipelined request, RFC 9112 §9.3.2) stays in the buffer; an end or
// an error means the client is gone.
func (w *clientWatch) read() {
	w.mu.Lock()
	if w.state != watchArmed {
		w.mu.Unlock()
		return
	}
	w.state = watchReading
	// No deadline while the handler runs: the idle one must not end the
	// watch of a long request. Under the lock, so that disarm's expired
	// deadline always comes after this one.
	w.c.conn.SetReadDeadline(time.Time{})
	w.mu.Unlock()
	_, err := w.c.br.Peek(1)
	w.mu.Lock()
	aborted := w.state == watchAborting
	w.state = watchEnded
	w.mu.Unlock()
	var ne net.Error
	if err != nil && !aborted && !(errors.As(err, &ne) && ne.Timeout()) {
		w.c.clientGone(err)
	}
	w.done <- struct{}{}
}

// disarm stops the watch; a read under way is interrupted and waited for, so
// that the connection's reader is the serving goroutine's again.
func (w *clientWatch) disarm() {
	w.timer.Stop()
	w.mu.Lock()
	st := w.state
	switch st {
	case watchArmed:
		w.state = watchOff
	case watchReading:
		w.state = watchAborting
	}
	w.mu.Unlock()
	switch st {
	case watchReading:
		w.c.conn.SetReadDeadline(aLongTimeAgo)
		<-w.done
	case watchEnded:
		<-w.done
	default:
		return
	}
	w.c.deadline = time.Time{} // changed by the watch: the next keepDeadline sets it anew
	w.mu.Lock()
	w.state = watchOff
	w.mu.Unlock()
}
