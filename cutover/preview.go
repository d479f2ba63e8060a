package cutover

import (
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/proxy/middleware"
	"github.com/batonproxy/baton/upstream"
)

// PreviewOptions are the parts of baton.yaml a publish depends on.
type PreviewOptions struct {
	// HTTPS: baton has an HTTPS listener (tls is on); without one a router
	// that answers on HTTPS only is refused.
	HTTPS bool
	// MiddlewareEnv is given to every middleware built, as serve gives it.
	MiddlewareEnv middleware.Env
	// Static are the config file's routes: they claim their hosts first.
	Static []ServiceRoutes
}

// Preview is what a running baton would route and refuse for a set of
// containers once every one of them is ready.
type Preview struct {
	// Services are the routed services, static ones first, as `baton
	// status` lists them.
	Services []ServiceRoutes
	// Refused are the routers a publish leaves out (*RouterRefused: a
	// middleware that cannot be had, an HTTPS-only router without HTTPS)
	// and the host, path or rule claims a later service loses
	// (*proxy.ConflictError).
	Refused []error
	// Problems are the containers that are not routed at all and the
	// Traefik labels they ignore, as Controller.Problems lists them.
	Problems []Problem
}

// PreviewRoutes publishes ins, as if each were ready, to a switchboard of
// its own and reads back what it routed and refused. It is the running
// baton's decision, not a copy of it: the same middleware resolution across
// containers (collectMiddlewares: name@docker, a name defined differently
// twice), the same per-router checks and chains (Switchboard.routesOf) and
// the same table conflicts (proxy.NewTable). Services claim hosts in the
// order of ins, where the running baton's order is that in which services
// first became ready. Nothing is dialled or started: the targets are
// addresses in a table that serves no listener.
func PreviewRoutes(ins []upstream.Instance, o PreviewOptions) Preview {
	sb := NewSwitchboard(proxy.NewRouter(nil), proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	sb.HTTPS, sb.MiddlewareEnv = o.HTTPS, o.MiddlewareEnv

	var p Preview
	var routable []upstream.Instance
	byService := map[string][]upstream.Instance{}
	var order []string
	for _, in := range ins {
		p.Problems = append(p.Problems, problemsOf(in, "")...)
		if !in.Routable() {
			continue
		}
		routable = append(routable, in)
		if _, ok := byService[in.Service]; !ok {
			order = append(order, in.Service)
		}
		byService[in.Service] = append(byService[in.Service], in)
	}

	sb.mu.Lock()
	// As Controller.publishLocked: every routable container's middlewares
	// serve every router; a service is routed as its first container says.
	sb.middlewares = collectMiddlewares(append([]upstream.Instance(nil), routable...))
	sb.static = o.Static
	for _, name := range order {
		sr := ServiceRoutes{Name: name, Routing: routingOf(byService[name][0].Spec)}
		if !sr.Routing.routed() {
			continue // a worker: deployed, never routed
		}
		for _, in := range byService[name] {
			sr.Live = append(sr.Live, Endpoint{ID: in.ID, Addr: in.Addr, Version: in.Version})
		}
		sb.seq++
		sb.order[name] = sb.seq
		sb.services[name] = &sr
	}
	sb.publishLocked()
	sb.mu.Unlock()

	p.Services = sb.All()
	p.Refused = sb.Conflicts()
	return p
}
