package check

import (
	"strconv"
	"strings"
	"testing"
)

// Each testdata stack, checked as a baton with the embedded defaults and
// TLS on would serve it: the verdict of every service, what its routers
// route, and what is refused, with the label and the line at fault.
func TestCheckVerdictsPerService(t *testing.T) {
	type want struct {
		verdict string
		routes  []string // router host+path or rule -> port listeners [middlewares]
		refused []string // label@line: part of the reason
	}
	cases := []struct {
		files    []string
		https    bool
		env      map[string]string
		routable bool
		services map[string]want
	}{
		{
			files: []string{"authelia.yaml"}, https: true,
			services: map[string]want{
				// Traefik's own dashboard: a service only Traefik has.
				"traefik":  {verdict: Refused, refused: []string{"traefik.http.routers.api.service@13: names a service this container does not define"}},
				"authelia": {verdict: Routed, routes: []string{"authelia auth.example.com/ -> 9091 https"}},
				// forwardAuth defined on authelia, used as authelia@docker.
				"nextcloud": {verdict: Routed, routes: []string{"nextcloud nextcloud.example.com/ -> 80 https [authelia]"}},
				"heimdall":  {verdict: Refused, refused: []string{"traefik.http.routers.heimdall.middlewares@49: middleware authelia-basic is defined by no routable container"}},
				"db":        {verdict: NotHandled},
			},
		},
		{
			files: []string{"authelia.yaml"}, https: false,
			services: map[string]want{
				"authelia":  {verdict: Refused, refused: []string{"traefik.http.routers.authelia.entryPoints@25: it answers on HTTPS only"}},
				"nextcloud": {verdict: Refused, refused: []string{"traefik.http.routers.nextcloud.entryPoints@37: it answers on HTTPS only"}},
			},
		},
		{
			files: []string{"homelab.yaml"}, https: true,
			services: map[string]want{
				// camelCase keys: entryPoints, loadBalancer; the port label
				// wins over the ports Compose publishes.
				"gitea":    {verdict: Routed, routes: []string{"gitea git.example.com/ -> 3000 http"}},
				"jellyfin": {verdict: Refused, refused: []string{"traefik.http.routers.jellyfin.middlewares@24: middleware chain-oauth@file: baton reads middlewares from Docker labels only"}},
				"dozzle":   {verdict: Refused, refused: []string{"baton.port@25: the container exposes no port"}},
				"queue":    {verdict: Worker},
				"homer": {verdict: Refused, refused: []string{
					"deploy.labels: traefik.enable@41: Compose does not put deploy.labels on containers",
					"deploy.labels: traefik.http.routers.dashboard.rule@42: a Swarm service label",
					"deploy.labels: traefik.http.services.dashboard.loadbalancer.server.port@43: a Swarm service label",
				}},
				// The UDP port is not a candidate; the middleware is
				// defined on the same container.
				"web": {verdict: Routed, routes: []string{
					"shop shop.example.com/ -> 8080 https (http redirects)",
					"shop-admin shop.example.com/admin -> 8080 https (http redirects) [admin-auth]",
				}},
				"redis": {verdict: NotHandled},
			},
		},
		{
			files: []string{"conflict.yaml"}, https: false,
			services: map[string]want{
				"blue": {verdict: Routed, routes: []string{" shop.example.com/ -> 8080 http"}},
				// The later claim to a host loses it, the rest is routed.
				"green":  {verdict: Partly, routes: []string{" www.example.com/ -> 8080 http"}, refused: []string{`baton.host@14: host "shop.example.com" path "/" is already routed to service "shop-blue"; refused for service "shop-green"`}},
				"ranges": {verdict: Refused, refused: []string{"baton.port@15: several ports"}},
			},
		},
		{
			// Two files, as docker compose -f base.yaml -f override.yaml:
			// labels merged over a YAML merge key, a middleware of the
			// override used as name and name@docker, ${DOMAIN} from the
			// environment.
			files: []string{"base.yaml", "override.yaml"}, https: true, env: map[string]string{"DOMAIN": "shop.example.com"}, routable: true,
			services: map[string]want{
				"web": {verdict: Routed, routes: []string{"web shop.example.com/ -> 8080 https (http redirects) [secure-headers]"}},
				"api": {verdict: Routed, routes: []string{"api shop.example.com/api -> 9000 https (http redirects) [secure-headers]"}},
			},
		},
		{
			// docker compose config's output: $$ escapes, long ports,
			// resolved network names (traefik.docker.network must be one
			// the container joins).
			files: []string{"compose-config.yaml"}, https: true,
			services: map[string]want{
				"ghost": {verdict: Routed, routes: []string{
					"ghost blog.example.com/ -> 2368 https (http redirects) [ghost-redirect]",
					"ghost www.blog.example.com/ -> 2368 https (http redirects) [ghost-redirect]",
				}},
				"mail": {verdict: Refused, refused: []string{"traefik.docker.network@26: the container is not attached to that network"}},
			},
		},
	}
	for _, tc := range cases {
		name := strings.Join(tc.files, "+")
		if !tc.https {
			name += " (tls off)"
		}
		t.Run(name, func(t *testing.T) {
			r := Check(load(t, tc.env, tc.files...), opts(tc.https))
			if r.Routable != tc.routable {
				t.Errorf("routable = %v, want %v", r.Routable, tc.routable)
			}
			for svc, w := range tc.services {
				s := service(t, r, svc)
				if s.Verdict != w.verdict {
					t.Errorf("%s: verdict %q, want %q (%+v)", svc, s.Verdict, w.verdict, s)
				}
				var got []string
				for _, rt := range s.Routes {
					where := rt.Host + rt.Path
					if rt.Rule != "" {
						where = rt.Rule
					}
					line := rt.Router + " " + where + " -> " + strconv.Itoa(rt.Port) + " " + rt.Listeners
					if len(rt.Middlewares) > 0 {
						line += " [" + strings.Join(rt.Middlewares, ",") + "]"
					}
					got = append(got, line)
				}
				if strings.Join(got, "\n") != strings.Join(w.routes, "\n") {
					t.Errorf("%s: routes\n%s\nwant\n%s", svc, strings.Join(got, "\n"), strings.Join(w.routes, "\n"))
				}
				if len(s.Refusals) != len(w.refused) {
					t.Errorf("%s: %d refusals %+v, want %d", svc, len(s.Refusals), s.Refusals, len(w.refused))
				}
				for _, want := range w.refused {
					label, rest, _ := strings.Cut(want, "@")
					line, reason, _ := strings.Cut(rest, ": ")
					found := false
					for _, ref := range s.Refusals {
						if ref.Label == label && strings.HasSuffix(ref.At, ":"+line) && strings.Contains(ref.Reason, reason) {
							found = true
						}
					}
					if !found {
						t.Errorf("%s: no refusal of %s at line %s saying %q in %+v", svc, label, line, reason, s.Refusals)
					}
				}
			}
		})
	}
}
