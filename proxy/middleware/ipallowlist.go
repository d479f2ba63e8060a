package middleware

import (
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// ipAllowList (and ipWhiteList, its name before Traefik v3, which has no
// rejectStatusCode) lets a request through only when the address its
// ipStrategy picks is in sourceRange; any other request, and one for which
// the strategy picks no address, is answered rejectStatusCode (403 by
// default) with the status text as body, as Traefik does. See ipstrategy.go
// for which address that is.
func init() {
	register("ipallowlist", func(s Spec, env Env, next http.Handler) (http.Handler, error) {
		return newIPAllowList(s, env, next, true)
	})
	register("ipwhitelist", func(s Spec, env Env, next http.Handler) (http.Handler, error) {
		return newIPAllowList(s, env, next, false)
	})
}

type ipAllowList struct {
	next     http.Handler
	allowed  ipSet
	strategy ipStrategy
	status   int
	text     string
	log      *zap.Logger
}

func newIPAllowList(s Spec, env Env, next http.Handler, allowList bool) (http.Handler, error) {
	o := newOptions(s)
	log := kindLogger(s, env)
	a := &ipAllowList{next: next, status: http.StatusForbidden, log: log}

	v, ok := o.get("sourcerange")
	entries := list(v)
	if !ok || len(entries) == 0 {
		return nil, &OptionError{Option: "sourcerange", Value: v, Reason: "required: the addresses or CIDR ranges let through"}
	}
	var err error
	if a.allowed, err = parseIPSet("sourcerange", v, entries); err != nil {
		return nil, err
	}
	// "ipstrategy" alone (an empty section, which Traefik's labels allow) is
	// the default strategy.
	if bare, ok := o.get("ipstrategy"); ok && strings.TrimSpace(bare) != "" {
		if _, err := strconv.ParseBool(strings.TrimSpace(bare)); err != nil {
			return nil, &OptionError{Option: "ipstrategy", Value: bare, Reason: "an ipStrategy section takes no value but true (set ipstrategy.depth, ipstrategy.excludedips or ipstrategy.ipv6subnet)"}
		}
	}
	if a.strategy, _, err = parseIPStrategy(o, "ipstrategy.", env, log); err != nil {
		return nil, err
	}
	if allowList {
		code, set, err := accessInt(o, "rejectstatuscode", 0)
		if err != nil {
			return nil, err
		}
		if set && code != 0 {
			if code < 200 || code > 999 || http.StatusText(int(code)) == "" {
				return nil, &OptionError{Option: "rejectstatuscode", Value: strconv.FormatInt(code, 10), Reason: "not a final HTTP status code baton knows"}
			}
			a.status = int(code)
		}
	}
	a.text = http.StatusText(a.status)
	if err := o.unknown(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *ipAllowList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr, raw := a.strategy.pick(r)
	if addr.IsValid() && a.allowed.contains(addr) {
		a.next.ServeHTTP(w, r)
		return
	}
	if ce := a.log.Check(zap.DebugLevel, "ipAllowList: rejected"); ce != nil {
		ce.Write(zap.Stringer("addr", addr), zap.String("entry", raw))
	}
	writeText(w, a.status, a.text)
}
