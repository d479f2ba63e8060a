package middleware

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// specResolver serves specs by name, also as name@docker.
func specResolver(specs ...Spec) func(string) (Spec, bool) {
	m := map[string]Spec{}
	for _, s := range specs {
		m[s.Name] = s
	}
	return func(name string) (Spec, bool) {
		s, ok := m[strings.TrimSuffix(name, "@docker")]
		return s, ok
	}
}

func TestChainOrder(t *testing.T) {
	env := Env{Resolve: specResolver(
		Spec{Name: "strip", Kind: "stripprefix", Options: map[string]string{"prefixes": "/api"}},
		Spec{Name: "add", Kind: "addprefix", Options: map[string]string{"prefix": "/v2"}},
		Spec{Name: "hdr", Kind: "headers", Options: map[string]string{"customresponseheaders.x-order": "hdr", "customrequestheaders.x-in": "hdr"}},
		Spec{Name: "inner", Kind: "chain", Options: map[string]string{"middlewares": "add"}},
	)}
	var seen observedRequest
	// strip runs first (outermost), then the nested chain's add: /api/x -> /x -> /v2/x.
	h, err := Build(Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "strip@docker, inner, hdr"}}, env, observingNext(&seen))
	if err != nil {
		t.Fatal(err)
	}
	rec := serveRecorded(h, httptest.NewRequest(http.MethodGet, "/api/x?q", nil))
	if seen.requestURI != "/v2/x?q" || seen.header.Get("X-In") != "hdr" || rec.Header().Get("X-Order") != "hdr" {
		t.Errorf("next saw %q X-In %q, client got X-Order %q; want /v2/x?q, hdr, hdr", seen.requestURI, seen.header.Get("X-In"), rec.Header().Get("X-Order"))
	}
	// The other order: add first, then strip (which then finds no /api prefix).
	h, err = Build(Spec{Name: "c2", Kind: "chain", Options: map[string]string{"middlewares": "add,strip"}}, env, observingNext(&seen))
	if err != nil {
		t.Fatal(err)
	}
	serveRecorded(h, httptest.NewRequest(http.MethodGet, "/api/x", nil))
	if seen.requestURI != "/v2/api/x" {
		t.Errorf("add then strip: next saw %q, want /v2/api/x", seen.requestURI)
	}
	// An empty chain is next itself.
	h, err = Build(Spec{Name: "e", Kind: "chain", Options: map[string]string{"middlewares": ""}}, Env{}, observingNext(&seen))
	if err != nil {
		t.Fatal(err)
	}
	serveRecorded(h, httptest.NewRequest(http.MethodGet, "/z", nil))
	if seen.requestURI != "/z" {
		t.Errorf("empty chain: next saw %q", seen.requestURI)
	}
}

// A redirect in the chain answers before the members after it run.
func TestChainShortCircuits(t *testing.T) {
	env := Env{Resolve: specResolver(
		Spec{Name: "tohttps", Kind: "redirectscheme", Options: map[string]string{"scheme": "https", "permanent": "true"}},
		Spec{Name: "hdr", Kind: "headers", Options: map[string]string{"framedeny": "true"}},
	)}
	var seen observedRequest
	h, err := Build(Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "hdr,tohttps"}}, env, observingNext(&seen))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/p", nil)
	req.Host = "example.com"
	rec := serveRecorded(h, req)
	if seen.called || rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "https://example.com/p" || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("next %v status %d Location %q X-Frame-Options %q", seen.called, rec.Code, rec.Header().Get("Location"), rec.Header().Get("X-Frame-Options"))
	}
}

func TestChainErrors(t *testing.T) {
	env := Env{Resolve: specResolver(
		Spec{Name: "a", Kind: "chain", Options: map[string]string{"middlewares": "b"}},
		Spec{Name: "b", Kind: "chain", Options: map[string]string{"middlewares": "ok, a@docker"}},
		Spec{Name: "self", Kind: "chain", Options: map[string]string{"middlewares": "self"}},
		Spec{Name: "ok", Kind: "addprefix", Options: map[string]string{"prefix": "/x"}},
		Spec{Name: "broken", Kind: "headers", Options: map[string]string{"sslredirect": "true"}},
		Spec{Name: "auth", Kind: "digestauth", Options: map[string]string{"users": "u"}},
		Spec{Name: "deep", Kind: "chain", Options: map[string]string{"middlewares": "ghost"}},
	)}
	for _, tc := range []struct {
		spec        Spec
		value, want string
	}{
		{Spec{Name: "a", Kind: "chain", Options: map[string]string{"middlewares": "b"}}, "a@docker", "a -> b -> a@docker"},
		{Spec{Name: "self", Kind: "chain", Options: map[string]string{"middlewares": "self"}}, "self", "contain itself"},
		{Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "ok,missing"}}, "missing", "no middleware of that name"},
		{Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "ok,deep"}}, "ghost", "c -> deep"},
		{Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "broken"}}, "broken", "sslredirect"},
		{Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "auth"}}, "auth", "not implemented"},
		{Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "ok", "middleware": "ok"}}, "ok", "not an option"},
	} {
		_, err := Build(tc.spec, env, http.NotFoundHandler())
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Value != tc.value || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("chain %v: error %v, want an OptionError for %q saying %q", tc.spec.Options, err, tc.value, tc.want)
		}
	}
	if _, err := Build(Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "x"}}, Env{}, http.NotFoundHandler()); err == nil {
		t.Errorf("chain without a resolver: no error")
	}
}

// Names that resolve to the same chain under spellings the cycle check
// does not equate are stopped by the depth bound.
func TestChainDepthBound(t *testing.T) {
	n := 0
	env := Env{Resolve: func(name string) (Spec, bool) {
		n++
		return Spec{Name: name + "'", Kind: "chain", Options: map[string]string{"middlewares": name + "+"}}, true
	}}
	_, err := Build(Spec{Name: "c", Kind: "chain", Options: map[string]string{"middlewares": "x"}}, env, http.NotFoundHandler())
	if err == nil || !strings.Contains(err.Error(), "deeper than 32") || n > 100 {
		t.Errorf("error %v after %d resolutions, want the depth bound", err, n)
	}
}
