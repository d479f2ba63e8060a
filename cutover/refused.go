package cutover

import (
	"errors"
	"fmt"
)

// RouterRefused is a router the switchboard does not publish, and why. It
// names the service, the router and its place (host and path, or rule), so
// `baton status` and `baton check` can say which router of which service.
type RouterRefused struct {
	Service, Router string
	Where           string // host+path or rule; "" when the rule itself is at fault
	Reason          error
}

func (e *RouterRefused) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("service %s, router %s: %v: the router is not routed", e.Service, e.Router, e.Reason)
	}
	return fmt.Sprintf("service %s, router %s (%s): %v: the router is not routed", e.Service, e.Router, e.Where, e.Reason)
}

func (e *RouterRefused) Unwrap() error { return e.Reason }

// ErrHTTPSOnly: Traefik serves a websecure or tls router on TLS connections
// only; without an HTTPS listener baton has nowhere to serve it.
var ErrHTTPSOnly = errors.New("it answers on HTTPS only (entrypoint websecure, or tls) and baton has no HTTPS listener (tls is off)")
