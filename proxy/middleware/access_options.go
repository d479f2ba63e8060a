package middleware

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Option values of the access-control kinds (basicAuth, forwardAuth,
// ipAllowList, rateLimit, inFlightReq, buffering), read as Traefik's label
// parser reads them; a value it would not parse is an OptionError naming the
// option.

// accessBool reads a boolean option (strconv.ParseBool: true, false, 1, 0...).
func accessBool(o *options, key string) (v, set bool, err error) {
	s, ok := o.get(key)
	if !ok {
		return false, false, nil
	}
	b, perr := strconv.ParseBool(strings.TrimSpace(s))
	if perr != nil {
		return false, true, &OptionError{Option: key, Value: s, Reason: "not a boolean (true or false)"}
	}
	return b, true, nil
}

// accessInt reads a base-10 integer option no smaller than min.
func accessInt(o *options, key string, min int64) (v int64, set bool, err error) {
	s, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if perr != nil {
		return 0, true, &OptionError{Option: key, Value: s, Reason: "not an integer"}
	}
	if n < min {
		return 0, true, &OptionError{Option: key, Value: s, Reason: "must be at least " + strconv.FormatInt(min, 10)}
	}
	return n, true, nil
}

// accessDuration reads a duration option as Traefik's types.Duration does: a
// bare integer is a number of seconds ("10" is 10s), anything else is a Go
// duration ("250ms", "1m").
func accessDuration(o *options, key string) (v time.Duration, set bool, err error) {
	s, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	t := strings.TrimSpace(s)
	if n, perr := strconv.ParseInt(t, 10, 64); perr == nil {
		if n > int64(1<<63-1)/int64(time.Second) || n < -int64(1<<63-1)/int64(time.Second) {
			return 0, true, &OptionError{Option: key, Value: s, Reason: "too long a duration"}
		}
		return time.Duration(n) * time.Second, true, nil
	}
	d, perr := time.ParseDuration(t)
	if perr != nil {
		return 0, true, &OptionError{Option: key, Value: s, Reason: "not a duration (a number of seconds, or a Go duration such as 500ms or 1m)"}
	}
	return d, true, nil
}

// kindLogger is the build's logger with the middleware's name and kind.
func kindLogger(s Spec, env Env) *zap.Logger {
	l := env.Logger
	if l == nil {
		l = zap.NewNop()
	}
	return l.With(zap.String("middleware", s.Name), zap.String("kind", s.Kind))
}

// isHeaderToken reports whether name is an HTTP field name (an RFC 9110
// token), so that a header a middleware adds cannot break the request head
// baton writes upstream.
func isHeaderToken(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// writeText answers a request with status and a plain-text body, as the
// Traefik middlewares do with http.StatusText (net/http would sniff the same
// Content-Type; baton's writer does not sniff, so it is set).
func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
