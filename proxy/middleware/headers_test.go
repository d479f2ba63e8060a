package middleware

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// upstreamAnswer is a next handler that answers like a backend: its headers,
// then status and body.
func upstreamAnswer(status int, header map[string]string, seen *observedRequest) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen.called = true
			seen.host = r.Host
			seen.header = r.Header.Clone()
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("body"))
	})
}

func TestHeadersCustomRequestHeaders(t *testing.T) {
	var seen observedRequest
	h := buildKind(t, "headers", map[string]string{
		"customrequestheaders.x-script-name": "test",
		"customrequestheaders.x-remove-me":   "",
		"customrequestheaders.host":          "internal.example",
	}, upstreamAnswer(200, nil, &seen))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Script-Name", "client")
	req.Header.Set("X-Remove-Me", "client")
	serveRecorded(h, req)
	if got := seen.header.Values("X-Script-Name"); !reflect.DeepEqual(got, []string{"test"}) {
		t.Errorf("X-Script-Name = %q, want [test] (set, replacing the client's)", got)
	}
	if _, ok := seen.header["X-Remove-Me"]; ok {
		t.Errorf("X-Remove-Me still sent upstream; an empty value removes it")
	}
	if seen.host != "internal.example" {
		t.Errorf("Host = %q, want internal.example", seen.host)
	}
}

func TestHeadersCustomResponseHeaders(t *testing.T) {
	h := buildKind(t, "headers", map[string]string{
		"customresponseheaders.x-custom-response-header": "value",
		"customresponseheaders.server":                   "",
		"customresponseheaders.x-powered-by":             "baton",
	}, upstreamAnswer(201, map[string]string{"Server": "nginx/1.2", "X-Powered-By": "php", "X-Other": "kept"}, nil))
	rec := serveRecorded(h, httptest.NewRequest(http.MethodGet, "/", nil))
	want := map[string]string{"X-Custom-Response-Header": "value", "X-Powered-By": "baton", "X-Other": "kept", "Server": ""}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if rec.Code != 201 || rec.Body.String() != "body" {
		t.Errorf("status %d body %q, want the upstream's 201 body", rec.Code, rec.Body.String())
	}
}

// securityOpts is a typical hardening label set.
var securityOpts = map[string]string{
	"stsseconds":                      "31536000",
	"stsincludesubdomains":            "true",
	"stspreload":                      "true",
	"framedeny":                       "true",
	"contenttypenosniff":              "true",
	"browserxssfilter":                "true",
	"contentsecuritypolicy":           "default-src 'self'",
	"referrerpolicy":                  "same-origin",
	"permissionspolicy":               "camera=()",
	"publickey":                       `pin-sha256="base64+primary=="; max-age=5184000`,
	"contentsecuritypolicyreportonly": "default-src 'none'",
}

func TestHeadersSecurity(t *testing.T) {
	h := buildKind(t, "headers", securityOpts, upstreamAnswer(200, map[string]string{"X-Frame-Options": "SAMEORIGIN"}, nil))
	want := map[string]string{
		"Strict-Transport-Security":           "max-age=31536000; includeSubDomains; preload",
		"X-Frame-Options":                     "DENY", // the middleware's wins over the upstream's
		"X-Content-Type-Options":              "nosniff",
		"X-Xss-Protection":                    "1; mode=block",
		"Content-Security-Policy":             "default-src 'self'",
		"Content-Security-Policy-Report-Only": "default-src 'none'",
		"Referrer-Policy":                     "same-origin",
		"Permissions-Policy":                  "camera=()",
		"Public-Key-Pins":                     `pin-sha256="base64+primary=="; max-age=5184000`,
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.TLS = &tls.ConnectionState{}
	rec := serveRecorded(h, req)
	for k, v := range want {
		if got := rec.Header().Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("HTTPS: %s = %q, want [%q]", k, got, v)
		}
	}
	// Over cleartext: no STS and no HPKP (RFC 6797 §7.2), the rest alike.
	rec = serveRecorded(h, httptest.NewRequest(http.MethodGet, "/", nil))
	for k, v := range want {
		if k == "Strict-Transport-Security" || k == "Public-Key-Pins" {
			v = ""
		}
		if got := rec.Header().Get(k); got != v {
			t.Errorf("HTTP: %s = %q, want %q", k, got, v)
		}
	}
	// An absolute-form https:// target on cleartext is no proof of TLS.
	req = httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	req.TLS = nil // httptest sets one for an https URL
	rec = serveRecorded(h, req)
	if got := rec.Header().Get("Strict-Transport-Security"); got != "" {
		t.Errorf("absolute-form https target over cleartext: STS %q, want none", got)
	}
}

func TestHeadersSTSOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		tls  bool
		hdr  map[string]string
		want string
	}{
		{map[string]string{"stsseconds": "60"}, true, nil, "max-age=60"},
		{map[string]string{"stsseconds": "60", "stspreload": "true"}, true, nil, "max-age=60; preload"},
		{map[string]string{"stsseconds": "60", "stsincludesubdomains": "true"}, true, nil, "max-age=60; includeSubDomains"},
		{map[string]string{"stsseconds": "60"}, false, nil, ""},
		{map[string]string{"stsseconds": "60", "forcestsheader": "true"}, false, nil, "max-age=60"},
		{map[string]string{"stsseconds": "60", "isdevelopment": "true"}, true, nil, ""},
		{map[string]string{"stsseconds": "0"}, true, nil, ""},
		{map[string]string{"stsseconds": "60", "sslproxyheaders.x-forwarded-proto": "https"}, false, map[string]string{"X-Forwarded-Proto": "https"}, "max-age=60"},
		{map[string]string{"stsseconds": "60", "sslproxyheaders.x-forwarded-proto": "https"}, false, map[string]string{"X-Forwarded-Proto": "http"}, ""},
	} {
		h := buildKind(t, "headers", tc.opts, upstreamAnswer(200, nil, nil))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.tls {
			req.TLS = &tls.ConnectionState{}
		}
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		if got := serveRecorded(h, req).Header().Get("Strict-Transport-Security"); got != tc.want {
			t.Errorf("%v tls=%v %v: STS %q, want %q", tc.opts, tc.tls, tc.hdr, got, tc.want)
		}
	}
}

func TestHeadersCustomValuesOverride(t *testing.T) {
	h := buildKind(t, "headers", map[string]string{
		"framedeny": "true", "customframeoptionsvalue": "SAMEORIGIN",
		"browserxssfilter": "true", "custombrowserxssvalue": "0",
	}, upstreamAnswer(200, nil, nil))
	rec := serveRecorded(h, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := rec.Header().Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("X-Frame-Options = %q, want SAMEORIGIN", got)
	}
	if got := rec.Header().Get("X-Xss-Protection"); got != "0" {
		t.Errorf("X-XSS-Protection = %q, want 0", got)
	}
	// A custom response header is applied after the security ones: it wins,
	// and an empty one removes a security header.
	h = buildKind(t, "headers", map[string]string{
		"framedeny": "true", "contenttypenosniff": "true",
		"customresponseheaders.x-frame-options":        "",
		"customresponseheaders.x-content-type-options": "custom",
	}, upstreamAnswer(200, nil, nil))
	rec = serveRecorded(h, httptest.NewRequest(http.MethodGet, "/", nil))
	if _, ok := rec.Header()["X-Frame-Options"]; ok || rec.Header().Get("X-Content-Type-Options") != "custom" {
		t.Errorf("X-Frame-Options %q, X-Content-Type-Options %q; want none and custom", rec.Header().Get("X-Frame-Options"), rec.Header().Get("X-Content-Type-Options"))
	}
}

func TestHeadersAllowedHosts(t *testing.T) {
	opts := map[string]string{"allowedhosts": "foo.com, bar.com", "framedeny": "true", "customresponseheaders.x-c": "v"}
	for _, tc := range []struct {
		host, proxied string
		opts          map[string]string
		want          int
	}{
		{host: "foo.com", want: 200},
		{host: "FOO.com", want: 200},
		{host: "", want: 500},
		{host: "boo.com", want: 500},
		{host: "foo.com:8080", want: 500}, // compared with the port, as unrolled/secure does
		{host: "boo.com", proxied: "bar.com", opts: map[string]string{"hostsproxyheaders": "X-Forwarded-Host"}, want: 200},
		{host: "foo.com", proxied: "evil.com", opts: map[string]string{"hostsproxyheaders": "X-Forwarded-Host"}, want: 500},
		{host: "boo.com", opts: map[string]string{"isdevelopment": "true"}, want: 200},
	} {
		o := map[string]string{}
		for k, v := range opts {
			o[k] = v
		}
		for k, v := range tc.opts {
			o[k] = v
		}
		var seen observedRequest
		h := buildKind(t, "headers", o, upstreamAnswer(200, nil, &seen))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tc.host
		if tc.proxied != "" {
			req.Header.Set("X-Forwarded-Host", tc.proxied)
		}
		rec := serveRecorded(h, req)
		if rec.Code != tc.want || seen.called != (tc.want == 200) {
			t.Errorf("host %q proxied %q %v: status %d next %v, want %d", tc.host, tc.proxied, tc.opts, rec.Code, seen.called, tc.want)
		}
		if tc.want == 500 {
			// Traefik's "Bad Host" answer goes through the custom headers only.
			if rec.Body.String() != "Bad Host\n" || rec.Header().Get("X-C") != "v" || rec.Header().Get("X-Frame-Options") != "" {
				t.Errorf("bad host answer: body %q X-C %q X-Frame-Options %q", rec.Body.String(), rec.Header().Get("X-C"), rec.Header().Get("X-Frame-Options"))
			}
		}
	}
}

// The headers are set whoever writes the status: an upstream error that
// baton answers itself, a handler that writes nothing, a Flush first.
func TestHeadersOnEveryAnswer(t *testing.T) {
	opts := map[string]string{"framedeny": "true", "customresponseheaders.x-c": "v"}
	for name, next := range map[string]http.HandlerFunc{
		"error":   func(w http.ResponseWriter, r *http.Request) { http.Error(w, "upstream down", http.StatusBadGateway) },
		"nothing": func(w http.ResponseWriter, r *http.Request) {},
		"write":   func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) },
		"flush":   func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush(); _, _ = w.Write([]byte("x")) },
		"controller flush": func(w http.ResponseWriter, r *http.Request) {
			_ = http.NewResponseController(w).Flush()
		},
	} {
		h := buildKind(t, "headers", opts, next)
		srv := httptest.NewServer(h)
		resp, err := http.Get(srv.URL)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-C") != "v" {
			t.Errorf("%s: X-Frame-Options %q X-C %q, want DENY and v", name, resp.Header.Get("X-Frame-Options"), resp.Header.Get("X-C"))
		}
	}
}

// A 1xx goes out as it is; the final answer gets the headers.
func TestHeadersInformational(t *testing.T) {
	h := buildKind(t, "headers", map[string]string{"customresponseheaders.x-c": "v"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
	}))
	rw := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rw, httptest.NewRequest(http.MethodGet, "/", nil))
	if len(rw.codes) != 2 || rw.codes[0] != 103 || rw.codes[1] != 200 {
		t.Fatalf("statuses %v, want [103 200]", rw.codes)
	}
	if rw.headersAt[0].Get("X-C") != "" || rw.headersAt[1].Get("X-C") != "v" {
		t.Errorf("X-C on 103 %q, on 200 %q; want only on the final answer", rw.headersAt[0].Get("X-C"), rw.headersAt[1].Get("X-C"))
	}
}

// statusRecorder records every WriteHeader with the headers at that time.
type statusRecorder struct {
	header    http.Header
	codes     []int
	headersAt []http.Header
	body      strings.Builder
	flushes   int
	hijacked  bool
}

func (w *statusRecorder) Header() http.Header { return w.header }
func (w *statusRecorder) WriteHeader(code int) {
	w.codes = append(w.codes, code)
	w.headersAt = append(w.headersAt, w.header.Clone())
}
func (w *statusRecorder) Write(p []byte) (int, error) {
	if len(w.codes) == 0 {
		w.WriteHeader(200)
	}
	return w.body.Write(p)
}
func (w *statusRecorder) Flush() { w.flushes++ }
func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	a, b := net.Pipe()
	b.Close()
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

// An upgrade hijacks the connection through the middleware's writer; no
// status is written after it.
func TestHeadersHijack(t *testing.T) {
	h := buildKind(t, "headers", map[string]string{"framedeny": "true"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		c.Close()
	}))
	rw := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rw, httptest.NewRequest(http.MethodGet, "/", nil))
	if !rw.hijacked || len(rw.codes) != 0 {
		t.Errorf("hijacked %v, statuses %v; want hijacked and none", rw.hijacked, rw.codes)
	}
}

func corsRequest(method, origin string, hdr map[string]string) *http.Request {
	req := httptest.NewRequest(method, "/", nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

func TestHeadersCORSPreflight(t *testing.T) {
	for _, tc := range []struct {
		desc string
		opts map[string]string
		req  map[string]string
		want map[string]string
	}{
		{"plain", map[string]string{
			"accesscontrolallowmethods":    "GET,OPTIONS,PUT",
			"accesscontrolallowheaders":    "Origin, X-Requested-With",
			"accesscontrolalloworiginlist": "https://foo.bar.org,https://example.org",
			"accesscontrolmaxage":          "100",
			"accesscontrolexposeheaders":   "X-Total",
			"addvaryheader":                "true",
		}, nil, map[string]string{
			"Access-Control-Allow-Methods":  "GET,OPTIONS,PUT",
			"Access-Control-Allow-Headers":  "Origin,X-Requested-With",
			"Access-Control-Allow-Origin":   "https://foo.bar.org",
			"Access-Control-Max-Age":        "100",
			"Access-Control-Expose-Headers": "X-Total",
			"Content-Length":                "0",
			"Vary":                          "", // not on a preflight, as Traefik
		}},
		{"wildcard without credentials", map[string]string{
			"accesscontrolallowmethods": "*", "accesscontrolallowheaders": "*", "accesscontrolalloworiginlist": "*",
		}, map[string]string{"Access-Control-Request-Headers": "X-A"}, map[string]string{
			"Access-Control-Allow-Methods": "*", "Access-Control-Allow-Headers": "*", "Access-Control-Allow-Origin": "*",
			"Access-Control-Allow-Credentials": "",
		}},
		{"wildcard with credentials echoes the request", map[string]string{
			"accesscontrolallowmethods": "*", "accesscontrolallowheaders": "*", "accesscontrolalloworiginlist": "*",
			"accesscontrolallowcredentials": "true", "accesscontrolexposeheaders": "*",
		}, map[string]string{"Access-Control-Request-Headers": "X-A, X-B"}, map[string]string{
			"Access-Control-Allow-Methods": "PUT", "Access-Control-Allow-Headers": "X-A, X-B", "Access-Control-Allow-Origin": "https://foo.bar.org",
			"Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "",
		}},
		{"origin not allowed", map[string]string{"accesscontrolalloworiginlist": "https://other.org", "accesscontrolallowmethods": "GET"}, nil, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "GET",
		}},
		{"origin by regex", map[string]string{"accesscontrolalloworiginlistregex": `^https://([a-z]+\.)?bar\.org$`}, nil, map[string]string{
			"Access-Control-Allow-Origin": "https://foo.bar.org",
		}},
	} {
		var seen observedRequest
		h := buildKind(t, "headers", tc.opts, upstreamAnswer(200, nil, &seen))
		req := map[string]string{"Access-Control-Request-Method": "PUT"}
		for k, v := range tc.req {
			req[k] = v
		}
		rec := serveRecorded(h, corsRequest(http.MethodOptions, "https://foo.bar.org", req))
		if seen.called || rec.Code != 200 || rec.Body.Len() != 0 {
			t.Errorf("%s: next called %v, status %d, body %q; want the middleware's empty 200", tc.desc, seen.called, rec.Code, rec.Body.String())
		}
		for k, v := range tc.want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.desc, k, got, v)
			}
		}
	}
	// Not a preflight (no Access-Control-Request-Method, or no Origin): next answers.
	for _, req := range []*http.Request{
		corsRequest(http.MethodOptions, "https://foo.bar.org", nil),
		corsRequest(http.MethodOptions, "", map[string]string{"Access-Control-Request-Method": "PUT"}),
	} {
		var seen observedRequest
		h := buildKind(t, "headers", map[string]string{"accesscontrolalloworiginlist": "*"}, upstreamAnswer(204, nil, &seen))
		if rec := serveRecorded(h, req); !seen.called || rec.Code != 204 {
			t.Errorf("OPTIONS %v: next called %v status %d, want next's 204", req.Header, seen.called, rec.Code)
		}
	}
	// Without a CORS option a preflight goes to next too.
	var seen observedRequest
	h := buildKind(t, "headers", map[string]string{"framedeny": "true"}, upstreamAnswer(204, nil, &seen))
	serveRecorded(h, corsRequest(http.MethodOptions, "https://a.org", map[string]string{"Access-Control-Request-Method": "PUT"}))
	if !seen.called {
		t.Errorf("preflight answered by a headers middleware without CORS options")
	}
}

func TestHeadersCORSResponse(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		opts     map[string]string
		origin   string
		upstream map[string]string
		want     map[string]string
	}{
		{"listed origin", map[string]string{"accesscontrolalloworiginlist": "https://a.org,https://b.org", "accesscontrolexposeheaders": "X-A,X-B"}, "https://b.org", nil,
			map[string]string{"Access-Control-Allow-Origin": "https://b.org", "Access-Control-Expose-Headers": "X-A,X-B", "Access-Control-Allow-Credentials": ""}},
		{"unlisted origin", map[string]string{"accesscontrolalloworiginlist": "https://a.org"}, "https://c.org", nil,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"wildcard", map[string]string{"accesscontrolalloworiginlist": "*"}, "https://c.org", nil,
			map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"wildcard with credentials", map[string]string{"accesscontrolalloworiginlist": "*", "accesscontrolallowcredentials": "true"}, "https://c.org", nil,
			map[string]string{"Access-Control-Allow-Origin": "https://c.org", "Access-Control-Allow-Credentials": "true"}},
		{"regex", map[string]string{"accesscontrolalloworiginlistregex": `^https://.*\.example\.com$`}, "https://app.example.com", nil,
			map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
		{"regex no match", map[string]string{"accesscontrolalloworiginlistregex": `^https://.*\.example\.com$`}, "https://example.org", nil,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"vary added", map[string]string{"accesscontrolalloworiginlist": "*", "addvaryheader": "true"}, "https://c.org", nil,
			map[string]string{"Vary": "Origin"}},
		{"vary appended", map[string]string{"accesscontrolalloworiginlist": "*", "addvaryheader": "true"}, "https://c.org", map[string]string{"Vary": "Accept-Encoding"},
			map[string]string{"Vary": "Accept-Encoding,Origin"}},
		{"vary already", map[string]string{"accesscontrolalloworiginlist": "*", "addvaryheader": "true"}, "https://c.org", map[string]string{"Vary": "origin"},
			map[string]string{"Vary": "origin"}},
		{"no vary unless asked", map[string]string{"accesscontrolalloworiginlist": "*"}, "https://c.org", nil,
			map[string]string{"Vary": ""}},
		{"the middleware's origin wins", map[string]string{"accesscontrolalloworiginlist": "https://a.org"}, "https://a.org", map[string]string{"Access-Control-Allow-Origin": "*"},
			map[string]string{"Access-Control-Allow-Origin": "https://a.org"}},
	} {
		h := buildKind(t, "headers", tc.opts, upstreamAnswer(200, tc.upstream, nil))
		rec := serveRecorded(h, corsRequest(http.MethodGet, tc.origin, nil))
		for k, v := range tc.want {
			if got := strings.Join(rec.Header().Values(k), "|"); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.desc, k, got, v)
			}
		}
	}
}

func TestHeadersOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts   map[string]string
		option string // "" when the error is not an OptionError
	}{
		{map[string]string{}, ""},
		{map[string]string{"framedeny": "false"}, ""}, // sets nothing: Traefik refuses it too
		{map[string]string{"sslredirect": "true"}, "sslredirect"},
		{map[string]string{"sslredirect": "false", "framedeny": "true"}, "sslredirect"},
		{map[string]string{"ssltemporaryredirect": "true"}, "ssltemporaryredirect"},
		{map[string]string{"sslhost": "example.com"}, "sslhost"},
		{map[string]string{"sslforcehost": "true"}, "sslforcehost"},
		{map[string]string{"featurepolicy": "camera 'none'"}, "featurepolicy"},
		{map[string]string{"framedeny": "yes please"}, "framedeny"},
		{map[string]string{"stsseconds": "-1"}, "stsseconds"},
		{map[string]string{"stsseconds": "1y"}, "stsseconds"},
		{map[string]string{"accesscontrolmaxage": "soon"}, "accesscontrolmaxage"},
		{map[string]string{"accesscontrolalloworiginlistregex": "(x"}, "accesscontrolalloworiginlistregex"},
		{map[string]string{"customrequestheaders.bad name": "x"}, "customrequestheaders.bad name"},
		{map[string]string{"customresponseheaders.x-a": "a\r\nSet-Cookie: x"}, "customresponseheaders.x-a"},
		{map[string]string{"customresponseheaders.content-length": "10"}, "customresponseheaders.content-length"},
		{map[string]string{"customrequestheaders.transfer-encoding": "chunked"}, "customrequestheaders.transfer-encoding"},
		{map[string]string{"contentsecuritypolicy": "script-src $NONCE"}, "contentsecuritypolicy"},
		{map[string]string{"hostsproxyheaders": "X Bad"}, "hostsproxyheaders"},
		{map[string]string{"framedeny": "true", "customrequestheader.x": "y"}, "customrequestheader.x"},
		{map[string]string{"framedeny": "true", "allowedhostsareregex": "true"}, "allowedhostsareregex"},
	} {
		err := buildKindErr("headers", tc.opts)
		var oe *OptionError
		switch {
		case err == nil:
			t.Errorf("headers %v: no error", tc.opts)
		case tc.option == "" && errors.As(err, &oe):
			t.Errorf("headers %v: %v, want a non-option error", tc.opts, err)
		case tc.option != "" && (!errors.As(err, &oe) || oe.Option != tc.option):
			t.Errorf("headers %v: %v, want one naming %s", tc.opts, err, tc.option)
		}
	}
	// Removing a framing header is allowed; stsSeconds=0 alone is a (no-op) configuration.
	for _, opts := range []map[string]string{{"customresponseheaders.content-length": ""}, {"stsseconds": "0"}} {
		if err := buildKindErr("headers", opts); err != nil {
			t.Errorf("headers %v: %v", opts, err)
		}
	}
}

// headerOnlyWriter is a ResponseWriter that keeps nothing but its header map,
// cleared between requests, as a server's is.
type headerOnlyWriter struct{ h http.Header }

func (w *headerOnlyWriter) Header() http.Header         { return w.h }
func (w *headerOnlyWriter) WriteHeader(int)             {}
func (w *headerOnlyWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkHeaders: the security headers and one custom response header on
// an HTTPS request.
func BenchmarkHeaders(b *testing.B) {
	opts := map[string]string{"customresponseheaders.x-custom": "value"}
	for k, v := range securityOpts {
		opts[k] = v
	}
	body, ct := []byte("ok"), []string{"text/plain"}
	h := buildKind(b, "headers", opts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ct
		w.WriteHeader(200)
		_, _ = w.Write(body)
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.TLS = &tls.ConnectionState{}
	w := &headerOnlyWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}
