package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/batonproxy/baton/proxy/internal/h1"
)

// ErrDraining is the cause a drain cancels a request with when it outlives the
// drain bound; the client gets 503 so it may retry, and the record counts it.
var ErrDraining = errors.New("target draining: request cancelled at the drain bound")

// StatusClientClosed is the status recorded (never sent) when the client went away
// before the response: nginx's 499.
const StatusClientClosed = 499

// upstreamFailure is how a failed upstream exchange is answered and counted.
type upstreamFailure struct {
	status int
	kind   string // refused, reset, timeout, draining, too_large, bad_request, client_gone, other
	reason string // short text for the client body
}

// classify maps an error from the upstream exchange to the client's status. The
// client's context tells a client that left (499) from an upstream that failed;
// cause is what the exchange was cancelled with, if it was.
func classify(err error, clientCtx context.Context, cause error) upstreamFailure {
	if errors.Is(cause, ErrDraining) {
		return upstreamFailure{http.StatusServiceUnavailable, "draining", "the upstream was retired before the response completed"}
	}
	if clientCtx.Err() != nil {
		return upstreamFailure{StatusClientClosed, "client_gone", "client closed request"}
	}
	var badBody *h1.BadRequestBodyError
	if errors.As(err, &badBody) {
		return upstreamFailure{http.StatusBadRequest, "bad_request", badBody.Error()}
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return upstreamFailure{http.StatusRequestEntityTooLarge, "too_large", "request body too large"}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return upstreamFailure{http.StatusGatewayTimeout, "timeout", "upstream timed out"}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return upstreamFailure{http.StatusBadGateway, "refused", "upstream refused the connection"}
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return upstreamFailure{http.StatusBadGateway, "reset", "upstream closed the connection"}
	}
	return upstreamFailure{http.StatusBadGateway, "other", "upstream error"}
}

// refusedBeforeSend reports whether err is a refused dial: nothing reached the
// upstream, so the request can go to another target.
func refusedBeforeSend(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && errors.Is(err, syscall.ECONNREFUSED)
}

// writeError answers the client with a short plain-text body.
func writeError(w http.ResponseWriter, status int, msg string) {
	if status == StatusClientClosed {
		return
	}
	h := w.Header()
	h["Content-Type"] = textPlain
	h["X-Content-Type-Options"] = noSniff
	if status == http.StatusServiceUnavailable {
		h["Retry-After"] = retryAfter
	}
	w.WriteHeader(status)
	io.WriteString(w, msg)
	io.WriteString(w, "\n")
}

var (
	textPlain  = []string{"text/plain; charset=utf-8"}
	noSniff    = []string{"nosniff"}
	retryAfter = []string{"1"}
)
