package upstream

import "strings"

// serviceLabel is one traefik.http.services.<s>.loadbalancer.<key> label.
type serviceLabel struct{ key, label, value string }

// setEndpoints reads the container's Traefik services into endpoints (port,
// scheme, servers transport), gives each router the service it sends to,
// and picks the main one (mainService). A container may define several
// services on several ports; each router reaches the one it names, else
// the only one defined (Traefik's default). Several services and a router
// that names none: Traefik refuses the router ("too many services"), so
// baton refuses the container, naming the router.
func (s *Spec) setEndpoints(container string, services map[string][]serviceLabel, routerService map[string]string, o ParseOptions) (ignored []string, errs []error) {
	names := sortedKeys(services)
	for _, r := range sortedKeys(routerService) {
		svc := strings.ToLower(strings.TrimSpace(routerService[r]))
		// name@docker is this provider's own name for it.
		svc = strings.TrimSuffix(svc, "@docker")
		if _, defined := services[svc]; !defined {
			if len(services) == 0 && !strings.Contains(svc, "@") {
				// No service defined: Traefik makes one of the container
				// itself; the router reaches the main endpoint.
				continue
			}
			errs = append(errs, &LabelError{Container: container, Label: "traefik.http.routers." + r + ".service", Value: routerService[r],
				Reason: "names a service this container does not define; baton routes a router to its own container's services only"})
			continue
		}
		for i := range s.Routers {
			if s.Routers[i].Name == r {
				s.Routers[i].Service = svc
			}
		}
	}
	for i := range s.Routers {
		r := &s.Routers[i]
		if _, named := routerService[r.Name]; named {
			continue
		}
		switch {
		case len(names) == 1:
			r.Service = names[0]
		case len(names) > 1:
			errs = append(errs, &LabelError{Container: container, Label: "traefik.http.routers." + r.Name + ".service",
				Reason: "the router names no service and the container defines several (" + strings.Join(names, ", ") + "); Traefik refuses such a router: set traefik.http.routers." + r.Name + ".service"})
		}
	}
	if len(names) == 0 {
		return nil, errs
	}
	host := ""
	if len(s.Hosts) > 0 {
		host = s.Hosts[0]
	}
	main := mainService(s.Routers, host, s.Verify.URLPath(), names)
	s.Endpoints = make(map[string]Endpoint, len(names))
	for _, name := range names {
		var ep Endpoint
		for _, l := range services[name] {
			bad := func(reason string) {
				errs = append(errs, &LabelError{Container: container, Label: l.label, Value: l.value, Reason: reason})
			}
			var err error
			switch l.key {
			case "server.port":
				err = setPort(&ep.Port, l.value)
			case "server.scheme":
				ep.Scheme, err = ParseScheme(l.value)
			case "serverstransport":
				ep.Transport, err = transportRef(l.value, false, o.Transports)
			case "healthcheck.path", "healthcheck.interval", "healthcheck.timeout":
				if name != main {
					// baton gates a container on its main endpoint only; the
					// check of another service of it changes nothing at the door.
					ignored = append(ignored, l.label)
					continue
				}
				err = applyHealthCheck(s, l.key, l.value)
			case "sticky.cookie.name":
				err = setCookie(&s.StickyCookie, l.value)
			case "sticky.cookie":
				var on bool
				if err = setBool(&on, l.value); err == nil && on && s.StickyCookie == "" {
					s.StickyCookie = "baton_sticky"
				}
			default:
				if !ignorableTraefikLabel(strings.Split(strings.ToLower(l.label), "."), l.value) {
					bad("a load-balancer setting baton does not honour; refused rather than routed without it")
					continue
				}
				ignored = append(ignored, l.label)
				continue
			}
			if err != nil {
				bad(err.Error())
			}
		}
		s.Endpoints[name] = ep
		if name == main {
			s.MainService = main
			if ep.Port != 0 {
				s.Port = ep.Port
			}
			s.Scheme, s.Transport = ep.Scheme, ep.Transport
		}
	}
	return ignored, errs
}

func applyHealthCheck(s *Spec, key, v string) error {
	switch key {
	case "healthcheck.path":
		return setPath(&s.Health.Path, v)
	case "healthcheck.interval":
		return setDuration(&s.Health.Interval, v)
	}
	return setDuration(&s.Health.Timeout, v)
}

// syncMainEndpoint makes the main Traefik service's endpoint what the spec
// says of the main endpoint once baton's labels (which win) are applied, so
// a router naming that service reaches the same port as the health probe.
func (s *Spec) syncMainEndpoint() {
	if s.MainService == "" {
		return
	}
	s.Endpoints[s.MainService] = Endpoint{Port: s.Port, Scheme: s.Scheme, Transport: s.Transport}
}
