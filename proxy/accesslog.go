package proxy

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// logAccess writes one access-log line when the access log is on. Off by default:
// the line costs more than the rest of a small request.
func (h *Handler) logAccess(r *http.Request, route *Route, t *Target, status int, start time.Time) {
	if !h.accessLog {
		return
	}
	service, target := "", ""
	if route != nil {
		service = route.Service
	}
	if t != nil {
		target = t.Addr
	}
	h.logger.Info("request",
		zap.String("method", r.Method),
		zap.String("proto", r.Proto), // HTTP/1.1, HTTP/2.0 or HTTP/3.0
		zap.String("host", r.Host),
		zap.String("path", r.URL.Path),
		zap.Int("status", status),
		zap.Duration("duration", time.Since(start)),
		zap.String("service", service),
		zap.String("target", target),
		zap.String("remote", r.RemoteAddr),
		zap.String("request_id", r.Header.Get("X-Request-Id")),
	)
}
