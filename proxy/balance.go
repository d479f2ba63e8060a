package proxy

import "net/http"

// pick chooses the target for a request: the one its sticky cookie pins (among
// ready and draining targets), else the next ready target round-robin, skipping
// targets that recently refused a connection. pinned reports a cookie match.
// r may be nil when no cookie applies (retries, hold).
func pick(route *Route, r *http.Request, nowNano int64) (t *Target, pinned bool) {
	if route.StickyCookie != "" && r != nil {
		if c, err := r.Cookie(route.StickyCookie); err == nil {
			if t := stickyTarget(route, c.Value); t != nil {
				return t, true
			}
		}
	}
	n := len(route.Targets)
	if n == 0 {
		return nil, false
	}
	if n == 1 {
		return route.Targets[0], false
	}
	start := int(route.next.Add(1))
	for i := 0; i < n; i++ {
		t := route.Targets[(start+i)%n]
		if t.available(nowNano) {
			return t, false
		}
	}
	// Every target refused lately: try one anyway, it may be back.
	return route.Targets[start%n], false
}

func stickyTarget(route *Route, value string) *Target {
	for _, t := range route.Targets {
		if t.stickyValue() == value {
			return t
		}
	}
	for _, t := range route.Draining {
		if t.stickyValue() == value {
			return t
		}
	}
	return nil
}
