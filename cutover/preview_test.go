package cutover

import (
	"errors"
	"strings"
	"testing"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// labelled is a container as the Docker provider would see it: its labels
// parsed with Traefik's on, reachable at name:8080.
func labelled(name string, labels map[string]string) upstream.Instance {
	spec, _, ignored, err := upstream.ParseLabels(upstream.Container{ID: name, Name: name, Labels: labels}, upstream.DefaultSpec(), upstream.ParseOptions{TraefikLabels: true})
	return upstream.Instance{ID: name, Name: name, Service: spec.Service, Spec: spec, Running: true, Addr: name + ":8080", Err: err, Ignored: ignored}
}

func refusedText(p Preview) string {
	var b strings.Builder
	for _, err := range p.Refused {
		b.WriteString(err.Error() + "\n")
	}
	return b.String()
}

func routedService(p Preview, name string) (ServiceRoutes, bool) {
	for _, sr := range p.Services {
		if sr.Name == name {
			return sr, true
		}
	}
	return ServiceRoutes{}, false
}

var autheliaLabels = map[string]string{
	"traefik.enable":                                                    "true",
	"traefik.http.routers.authelia.rule":                                "Host(`auth.example.com`)",
	"traefik.http.middlewares.authelia.forwardauth.address":             "http://authelia:9091/api/authz/forward-auth",
	"traefik.http.middlewares.authelia.forwardauth.trustForwardHeader":  "true",
	"traefik.http.middlewares.authelia.forwardauth.authResponseHeaders": "Remote-User,Remote-Groups",
}

func TestPreviewResolvesAMiddlewareDefinedOnAnotherContainer(t *testing.T) {
	app := labelled("app", map[string]string{
		"traefik.enable":                       "true",
		"traefik.http.routers.app.rule":        "Host(`app.example.com`)",
		"traefik.http.routers.app.middlewares": "authelia@docker",
	})
	p := PreviewRoutes([]upstream.Instance{labelled("authelia", autheliaLabels), app}, PreviewOptions{})
	if len(p.Refused)+len(p.Problems) > 0 {
		t.Fatalf("refused: %s problems: %+v", refusedText(p), p.Problems)
	}
	sr, ok := routedService(p, "app")
	if !ok || len(sr.Routing.Routes) != 1 || strings.Join(sr.Routing.Routes[0].Middlewares, ",") != "authelia" {
		t.Fatalf("app: %+v, want its router with the authelia middleware", sr)
	}
}

func TestPreviewRefusesWhatTheRunningBatonRefuses(t *testing.T) {
	broken := map[string]string{}
	for k, v := range autheliaLabels {
		broken[k] = v
	}
	broken["traefik.http.routers.authelia.tls.options"] = "modern@file" // refuses the whole container
	ins := []upstream.Instance{
		labelled("authelia", broken),
		labelled("app", map[string]string{
			"traefik.enable":                       "true",
			"traefik.http.routers.app.rule":        "Host(`app.example.com`)",
			"traefik.http.routers.app.middlewares": "authelia@docker",
			"traefik.http.routers.open.rule":       "Host(`app.example.com`) && PathPrefix(`/public`)",
		}),
		labelled("secure", map[string]string{
			"traefik.enable":                          "true",
			"traefik.http.routers.secure.rule":        "Host(`secure.example.com`)",
			"traefik.http.routers.secure.entrypoints": "websecure",
		}),
		labelled("first", map[string]string{"baton.enable": "true", "baton.host": "shop.example.com"}),
		labelled("second", map[string]string{"baton.enable": "true", "baton.host": "shop.example.com"}),
		labelled("worker", map[string]string{"baton.enable": "true"}),
	}
	p := PreviewRoutes(ins, PreviewOptions{})
	text := refusedText(p)
	for _, want := range []string{
		"service app, router app (app.example.com/): middleware authelia is defined by no routable container: the router is not routed",
		"service secure, router secure (secure.example.com/): it answers on HTTPS only",
		`host "shop.example.com" path "/" is already routed to service "first"; refused for service "second"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("refused:\n%s\nwant a line with %q", text, want)
		}
	}
	var rr *RouterRefused
	var ce *proxy.ConflictError
	kinds := 0
	for _, err := range p.Refused {
		if errors.As(err, &rr) && rr.Service != "" && rr.Router != "" || errors.As(err, &ce) && ce.Refused != "" {
			kinds++
		}
	}
	if kinds != len(p.Refused) {
		t.Errorf("every refusal names its service and router (or the conflict's services): %s", text)
	}
	if len(p.Problems) != 1 || p.Problems[0].Container != "authelia" || !strings.Contains(p.Problems[0].Error, "tls.options") {
		t.Errorf("problems %+v, want authelia's tls.options label named", p.Problems)
	}
	if sr, ok := routedService(p, "app"); !ok || len(sr.Routing.Routes) != 2 {
		t.Errorf("app's other router still routes: %+v", sr)
	}
	if _, ok := routedService(p, "worker"); ok {
		t.Error("a worker is not in the route table")
	}
	if sr, ok := routedService(p, "second"); !ok || len(sr.Live) != 1 {
		t.Errorf("the service that lost its host is still listed, as in baton status: %+v", sr)
	}

	// With an HTTPS listener the websecure router is routed.
	p = PreviewRoutes(ins, PreviewOptions{HTTPS: true})
	if strings.Contains(refusedText(p), "router secure") {
		t.Errorf("with HTTPS on, secure is routed: %s", refusedText(p))
	}
}

func TestPreviewStaticRoutesClaimTheirHostsFirst(t *testing.T) {
	static := []ServiceRoutes{{Name: "static:www.example.com/", Routing: Routing{Hosts: []string{"www.example.com"}, Path: "/"},
		Live: []Endpoint{{ID: "static:127.0.0.1:9001", Addr: "127.0.0.1:9001"}}}}
	p := PreviewRoutes([]upstream.Instance{labelled("web", map[string]string{"baton.enable": "true", "baton.host": "www.example.com"})}, PreviewOptions{Static: static})
	if !strings.Contains(refusedText(p), `already routed to service "static:www.example.com/"; refused for service "web"`) {
		t.Errorf("refused: %s", refusedText(p))
	}
}
