package middleware

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// authServer is an auth server on 127.0.0.1 that records what it got.
type authServer struct {
	*httptest.Server
	mu     sync.Mutex
	got    []*http.Request
	bodies []string
}

func newAuthServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *authServer {
	t.Helper()
	a := &authServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.got = append(a.got, r)
		a.bodies = append(a.bodies, string(b))
		a.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *authServer) last(t *testing.T) *http.Request {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.got) == 0 {
		t.Fatal("the auth server got no request")
	}
	return a.got[len(a.got)-1]
}

func allow(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }

func TestForwardAuthOptions(t *testing.T) {
	next := &recorder{}
	good := "http://127.0.0.1:9091/api/verify"
	for _, c := range []struct {
		kv     []string
		option string
	}{
		{nil, "address"},
		{[]string{"address", "127.0.0.1:9091"}, "address"},
		{[]string{"address", "ftp://auth/"}, "address"},
		{[]string{"address", "http://"}, "address"},
		{[]string{"address", "http://user:pw@auth/"}, "address"},
		{[]string{"address", good, "trustforwardheader", "maybe"}, "trustforwardheader"},
		{[]string{"address", good, "authresponseheadersregex", "^X-(unclosed"}, "authresponseheadersregex"},
		{[]string{"address", good, "authresponseheaders", "X-User,Bad Header"}, "authresponseheaders"},
		{[]string{"address", good, "authrequestheaders", "Cookie,Bad:Header"}, "authrequestheaders"},
		{[]string{"address", good, "maxbodysize", "-2"}, "maxbodysize"},
		{[]string{"address", good, "maxresponsebodysize", "big"}, "maxresponsebodysize"},
		{[]string{"address", good, "forwardbody", "yes"}, "forwardbody"},
		{[]string{"address", good, "tls.ca", "/etc/ssl/ca.pem"}, "tls.ca"},
		{[]string{"address", good, "tls.ca", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "tls.ca"},
		{[]string{"address", good, "tls.cert", "-----BEGIN CERTIFICATE-----\n"}, "tls.key"},
		{[]string{"address", good, "tls.key", "-----BEGIN PRIVATE KEY-----\n"}, "tls.cert"},
		{[]string{"address", good, "tls.insecureskipverify", "sure"}, "tls.insecureskipverify"},
		{[]string{"address", good, "tls.casecret", "x"}, "tls.casecret"},
		{[]string{"address", good, "authurl", "x"}, "authurl"},
	} {
		_, err := buildErr("forwardauth", Env{}, next, c.kv...)
		wantOptionError(t, err, c.option)
	}
	if _, err := buildErr("forwardauth", Env{}, next, "address", good, "tls.caoptional", "true"); err != nil {
		t.Errorf("tls.caoptional (deprecated, no effect in Traefik): %v", err)
	}
	h := build(t, "forwardauth", Env{}, next, "address", good).(*forwardAuth)
	if h.client.Timeout != forwardAuthTimeout || h.client.CheckRedirect == nil {
		t.Error("the auth client has no timeout, or follows redirects")
	}
}

// The request the auth server gets: a GET to address with the request
// described in X-Forwarded-*, its headers but the hop-by-hop ones, no body.
func TestForwardAuthRequest(t *testing.T) {
	auth := newAuthServer(t, allow)
	next := &recorder{}
	h := build(t, "forwardauth", Env{}, next, "address", auth.URL+"/api/verify?x=1", "trustforwardheader", "false")
	r := httptest.NewRequest("POST", "http://app.example:8080/admin/page?q=1&r=%2F", strings.NewReader("the body"))
	r.RemoteAddr = "198.51.100.7:40000"
	r.Header.Set("Cookie", "authelia_session=abc")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Proxy-Authorization", "Basic eA==")
	r.Header.Set("Connection", "keep-alive, X-Custom-Hop")
	r.Header.Set("X-Custom-Hop", "hop")
	r.Header.Set("Keep-Alive", "timeout=5")
	r.Header.Set("Te", "trailers")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "upstream" {
		t.Fatalf("status %d body %q, want the upstream's answer", w.Code, w.Body.String())
	}
	got := auth.last(t)
	if got.Method != "GET" || got.URL.RequestURI() != "/api/verify?x=1" {
		t.Errorf("auth request %s %s, want GET /api/verify?x=1", got.Method, got.URL.RequestURI())
	}
	if auth.bodies[0] != "" || got.ContentLength > 0 {
		t.Errorf("the auth server got a body %q", auth.bodies[0])
	}
	for k, want := range map[string]string{
		"X-Forwarded-Method":  "POST",
		"X-Forwarded-Proto":   "http",
		"X-Forwarded-Host":    "app.example:8080",
		"X-Forwarded-Port":    "8080",
		"X-Forwarded-Uri":     "/admin/page?q=1&r=%2F",
		"X-Forwarded-For":     "198.51.100.7",
		"Cookie":              "authelia_session=abc",
		"Accept":              "text/html",
		"Proxy-Authorization": "Basic eA==",
	} {
		if v := got.Header.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("auth request %s: %q, want %q", k, v, want)
		}
	}
	for _, k := range []string{"Connection", "X-Custom-Hop", "Keep-Alive", "Te"} {
		if v := got.Header.Get(k); v != "" {
			t.Errorf("auth request: hop-by-hop %s: %q", k, v)
		}
	}
	if got.Header.Get("User-Agent") != "" {
		t.Errorf("auth request User-Agent %q: the client sent none", got.Header.Get("User-Agent"))
	}
	// The upstream gets the request as it was, body included.
	up := next.last(t)
	if up.Method != "POST" || string(next.body[0]) != "the body" || up.Header.Get("Cookie") != "authelia_session=abc" {
		t.Errorf("upstream: %s, body %q", up.Method, next.body[0])
	}

	// preserveRequestMethod: the auth server gets the request's method.
	h = build(t, "forwardauth", Env{}, next, "address", auth.URL, "preserverequestmethod", "true", "trustforwardheader", "false")
	do(h, "DELETE", "http://app.example/x", "198.51.100.7:1")
	if m := auth.last(t).Method; m != "DELETE" {
		t.Errorf("preserveRequestMethod: auth method %s, want DELETE", m)
	}
}

func TestForwardAuthRequestHeadersFilter(t *testing.T) {
	auth := newAuthServer(t, allow)
	next := &recorder{}
	h := build(t, "forwardauth", Env{}, next, "address", auth.URL, "authrequestheaders", "cookie, X-Custom", "trustforwardheader", "false")
	do(h, "GET", "http://app.example/", "198.51.100.7:1", "Cookie", "s=1", "X-Custom", "c", "Authorization", "Bearer secret", "Accept", "*/*")
	got := auth.last(t).Header
	if got.Get("Cookie") != "s=1" || got.Get("X-Custom") != "c" {
		t.Errorf("listed headers not sent: %v", got)
	}
	if got.Get("Authorization") != "" || got.Get("Accept") != "" {
		t.Errorf("unlisted headers sent: Authorization %q Accept %q", got.Get("Authorization"), got.Get("Accept"))
	}
	if got.Get("X-Forwarded-Uri") != "/" || got.Get("X-Forwarded-Method") != "GET" {
		t.Errorf("X-Forwarded-* missing with authRequestHeaders: %v", got)
	}
	if next.last(t).Header.Get("Authorization") != "Bearer secret" {
		t.Error("the upstream lost a header the auth server was not sent")
	}
}

// A client that is not behind a trusted proxy cannot tell the auth server
// another host or path, whatever trustForwardHeader says; a trusted proxy's
// X-Forwarded-* reach it with trustForwardHeader=true only.
func TestForwardAuthForwardedHeaders(t *testing.T) {
	auth := newAuthServer(t, allow)
	env := trustedEnv("192.0.2.0/24")
	spoof := []string{"X-Forwarded-Host", "public.example", "X-Forwarded-Uri", "/public", "X-Forwarded-Proto", "https",
		"X-Forwarded-Method", "GET", "X-Forwarded-For", "10.0.0.1", "X_Forwarded_Uri", "/public", "X-Forwarded-Prefix", "/p"}
	for _, mode := range []string{"", "false", "true"} {
		kv := []string{"address", auth.URL}
		if mode != "" {
			kv = append(kv, "trustforwardheader", mode)
		}
		h := build(t, "forwardauth", env, &recorder{}, kv...)

		do(h, "POST", "http://admin.example/admin", "203.0.113.5:1", spoof...)
		got := auth.last(t).Header
		for k, want := range map[string]string{
			"X-Forwarded-Host": "admin.example", "X-Forwarded-Uri": "/admin", "X-Forwarded-Proto": "http",
			"X-Forwarded-Method": "POST", "X-Forwarded-For": "203.0.113.5",
		} {
			if v := got.Values(k); len(v) != 1 || v[0] != want {
				t.Errorf("trustForwardHeader=%q, untrusted client: %s %q, want %q", mode, k, v, want)
			}
		}
		for _, k := range []string{"X_forwarded_uri", "X-Forwarded-Prefix"} {
			if v := got.Get(k); v != "" {
				t.Errorf("trustForwardHeader=%q, untrusted client: its %s %q reached the auth server", mode, k, v)
			}
		}

		// Behind a trusted proxy (192.0.2.10) that says the client asked
		// https://public.example/public. Connection cannot strip the
		// X-Forwarded-* headers the edge manages (as Traefik's entry point).
		do(h, "POST", "http://admin.example/admin", "192.0.2.10:1", "Connection", "X-Forwarded-Host, X-Forwarded-Uri", "X-Forwarded-Host", "public.example",
			"X-Forwarded-Uri", "/public", "X-Forwarded-Proto", "https", "X-Forwarded-For", "198.51.100.9", "X-Forwarded-Prefix", "/p")
		got = auth.last(t).Header
		var want map[string]string
		switch mode {
		case "true":
			want = map[string]string{"X-Forwarded-Host": "public.example", "X-Forwarded-Uri": "/public", "X-Forwarded-Proto": "https",
				"X-Forwarded-For": "198.51.100.9, 192.0.2.10", "X-Forwarded-Method": "POST", "X-Forwarded-Port": "443", "X-Forwarded-Prefix": "/p"}
		case "false":
			want = map[string]string{"X-Forwarded-Host": "admin.example", "X-Forwarded-Uri": "/admin", "X-Forwarded-Proto": "http",
				"X-Forwarded-For": "192.0.2.10", "X-Forwarded-Method": "POST", "X-Forwarded-Port": "80", "X-Forwarded-Prefix": ""}
		default: // Traefik's legacy: some replaced, the others as they came
			want = map[string]string{"X-Forwarded-Host": "admin.example", "X-Forwarded-Uri": "/admin", "X-Forwarded-Proto": "http",
				"X-Forwarded-For": "192.0.2.10", "X-Forwarded-Method": "POST", "X-Forwarded-Prefix": "/p"}
		}
		for k, w := range want {
			if v := got.Get(k); v != w {
				t.Errorf("trustForwardHeader=%q, trusted proxy: %s %q, want %q", mode, k, v, w)
			}
		}
	}
}

func TestForwardAuthSuccessHeaders(t *testing.T) {
	auth := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Remote-User", "alice")
		w.Header().Set("X-Auth-Secret", "secret")
		w.Header().Add("Remote-Groups", "admins")
		w.Header().Add("Remote-Groups", "dev")
		w.Header().Set("Foo-Bar", "auth-value")
		io.WriteString(w, "ok")
	})
	next := &recorder{}
	h := build(t, "forwardauth", Env{}, next, "address", auth.URL, "trustforwardheader", "true",
		"authresponseheaders", "Remote-User,Remote-Groups,Remote-Email", "authresponseheadersregex", "^Foo-")
	w := do(h, "GET", "http://app.example/", "198.51.100.7:1",
		"Remote-User", "root", "Remote-Email", "root@evil", "Remote-Groups", "wheel", "Foo-Bar", "client", "Foo-Baz", "client")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	up := next.last(t).Header
	if up.Get("Remote-User") != "alice" || strings.Join(up.Values("Remote-Groups"), ",") != "admins,dev" {
		t.Errorf("upstream Remote-User %q Remote-Groups %q, want the auth server's", up.Get("Remote-User"), up.Values("Remote-Groups"))
	}
	if v, ok := up["Remote-Email"]; ok {
		t.Errorf("upstream Remote-Email %q: the client's, which the auth server did not vouch for", v)
	}
	if up.Get("Foo-Bar") != "auth-value" || up.Get("Foo-Baz") != "" {
		t.Errorf("regex: upstream Foo-Bar %q Foo-Baz %q, want auth-value and none", up.Get("Foo-Bar"), up.Get("Foo-Baz"))
	}
	if up.Get("X-Auth-Secret") != "" {
		t.Error("an auth header not asked for reached the upstream")
	}
	if w.Header().Get("Remote-User") != "" || w.Body.String() != "upstream" {
		t.Error("the client got the auth server's answer on success")
	}
}

// Authelia's way: 302 to its portal, with a cookie and a body; the client
// gets it as it is, and the upstream nothing. Redirects are not followed.
func TestForwardAuthRedirectPassThrough(t *testing.T) {
	portal := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "portal page") })
	auth := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		rd := "https://" + r.Header.Get("X-Forwarded-Host") + r.Header.Get("X-Forwarded-Uri")
		http.SetCookie(w, &http.Cookie{Name: "authelia_flow", Value: "f1", Path: "/"})
		w.Header().Set("X-Auth-Reason", "unauthenticated")
		w.Header().Set("Location", portal.URL+"/?rd="+rd)
		w.WriteHeader(http.StatusFound)
		io.WriteString(w, "<a href=\"...\">Found</a>")
	})
	next := &recorder{}
	h := build(t, "forwardauth", Env{}, next, "address", auth.URL, "trustforwardheader", "true")
	w := do(h, "GET", "http://app.example/secret?x=1", "198.51.100.7:1")
	if w.Code != http.StatusFound {
		t.Fatalf("status %d, want the auth server's 302", w.Code)
	}
	if loc := w.Header().Get("Location"); loc != portal.URL+"/?rd=https://app.example/secret?x=1" {
		t.Errorf("Location %q", loc)
	}
	if c := w.Header().Get("Set-Cookie"); c != "authelia_flow=f1; Path=/" || w.Header().Get("X-Auth-Reason") != "unauthenticated" {
		t.Errorf("the auth answer's headers: Set-Cookie %q, X-Auth-Reason %q", c, w.Header().Get("X-Auth-Reason"))
	}
	if w.Body.String() != "<a href=\"...\">Found</a>" {
		t.Errorf("body %q", w.Body.String())
	}
	if next.count() != 0 || len(portal.got) != 0 {
		t.Errorf("the upstream got %d requests, the portal %d: want none (no redirect followed)", next.count(), len(portal.got))
	}
}

func TestForwardAuthDeniedAnswers(t *testing.T) {
	var status int
	var location string
	auth := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		if location != "" {
			w.Header().Set("Location", location)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="x"`)
		w.Header().Set("Proxy-Authenticate", "test")
		w.Header().Set("Upgrade", "h2c")
		http.Error(w, http.StatusText(status), status)
	})
	next := &recorder{}
	for _, c := range []struct {
		status           int
		location, want   string
		preserve, signin string
		wantStatus       int
	}{
		{401, "", "", "", "", 401},
		{403, "", "", "", "", 403},
		{500, "", "", "", "", 500},
		{401, "/login", auth.URL + "/login", "", "", 401},
		{401, "/login", "/login", "true", "", 401},
		{401, "", "https://sso.example/start", "", "https://sso.example/start", 302},
		{403, "", "", "", "https://sso.example/start", 403}, // authSigninURL is for 401 only
	} {
		status, location = c.status, c.location
		kv := []string{"address", auth.URL, "trustforwardheader", "false"}
		if c.preserve != "" {
			kv = append(kv, "preservelocationheader", c.preserve)
		}
		if c.signin != "" {
			kv = append(kv, "authsigninurl", c.signin)
		}
		h := build(t, "forwardauth", Env{}, next, kv...)
		w := do(h, "GET", "http://app.example/", "198.51.100.7:1")
		if w.Code != c.wantStatus || w.Header().Get("Location") != c.want {
			t.Errorf("%d %q %v: status %d Location %q, want %d %q", c.status, c.location, kv[4:], w.Code, w.Header().Get("Location"), c.wantStatus, c.want)
		}
		if c.wantStatus == c.status {
			if w.Body.String() != http.StatusText(c.status)+"\n" || w.Header().Get("Www-Authenticate") != `Bearer realm="x"` || w.Header().Get("Proxy-Authenticate") != "test" {
				t.Errorf("%d: body %q, headers %v: want the auth server's", c.status, w.Body.String(), w.Header())
			}
			if w.Header().Get("Upgrade") != "" {
				t.Errorf("%d: the hop-by-hop Upgrade reached the client", c.status)
			}
		}
	}
	if next.count() != 0 {
		t.Errorf("the upstream got %d denied requests", next.count())
	}
}

func TestForwardAuthServerDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	addr := down.URL
	down.Close()
	next := &recorder{}
	h := build(t, "forwardauth", Env{}, next, "address", addr, "trustforwardheader", "false")
	w := do(h, "GET", "http://app.example/", "198.51.100.7:1")
	if w.Code != http.StatusInternalServerError || w.Body.Len() != 0 {
		t.Errorf("auth server down: status %d body %q, want 500 and no body", w.Code, w.Body.String())
	}
	if next.count() != 0 {
		t.Error("the upstream got a request the auth server never saw")
	}
}

func TestForwardAuthClientGone(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	auth := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	next := &recorder{}
	h := build(t, "forwardauth", Env{}, next, "address", auth.URL, "trustforwardheader", "false")
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "http://app.example/", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(w, r); close(done) }()
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the auth request outlived its client")
	}
	if w.Code != 499 || next.count() != 0 {
		t.Errorf("client gone: status %d, upstream %d requests; want 499 and none", w.Code, next.count())
	}
}

func TestForwardAuthBodies(t *testing.T) {
	auth := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("big") != "" {
			io.WriteString(w, strings.Repeat("x", 100))
		}
	})
	next := &recorder{}
	h := build(t, "forwardauth", Env{}, next, "address", auth.URL, "trustforwardheader", "false", "forwardbody", "true", "maxbodysize", "10")
	r := httptest.NewRequest("POST", "http://app.example/", strings.NewReader("0123456789"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || auth.bodies[len(auth.bodies)-1] != "0123456789" || string(next.body[0]) != "0123456789" {
		t.Errorf("forwardBody: status %d, auth body %q, upstream body %q", w.Code, auth.bodies[len(auth.bodies)-1], next.body[0])
	}
	r = httptest.NewRequest("POST", "http://app.example/", strings.NewReader("0123456789a"))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || next.count() != 1 {
		t.Errorf("body over maxBodySize: status %d, want 401", w.Code)
	}

	h = build(t, "forwardauth", Env{}, next, "address", auth.URL+"?big=1", "trustforwardheader", "false", "maxresponsebodysize", "99")
	if w := do(h, "GET", "http://app.example/", "198.51.100.7:1"); w.Code != http.StatusUnauthorized {
		t.Errorf("auth answer over maxResponseBodySize: status %d, want 401", w.Code)
	}
	h = build(t, "forwardauth", Env{}, next, "address", auth.URL+"?big=1", "trustforwardheader", "false", "maxresponsebodysize", "100")
	if w := do(h, "GET", "http://app.example/", "198.51.100.7:1"); w.Code != 200 {
		t.Errorf("auth answer at maxResponseBodySize: status %d, want 200", w.Code)
	}
}

func TestForwardAuthCookies(t *testing.T) {
	auth := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "authCookie=Auth")
		w.Header().Add("Set-Cookie", "authCookieNotAdded=Auth")
	})
	next := &recorder{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "authCookie=Backend")
		w.Header().Add("Set-Cookie", "backendCookie=Backend")
		io.WriteString(w, "upstream")
	}}
	h := build(t, "forwardauth", Env{}, next, "address", auth.URL, "trustforwardheader", "false", "addauthcookiestoresponse", "authCookie")
	w := do(h, "GET", "http://app.example/", "198.51.100.7:1")
	if got := strings.Join(w.Header().Values("Set-Cookie"), " | "); got != "backendCookie=Backend | authCookie=Auth" {
		t.Errorf("Set-Cookie %q, want the upstream's but authCookie, and the auth server's authCookie", got)
	}
	// Without the option, the upstream's cookies are left alone.
	h = build(t, "forwardauth", Env{}, next, "address", auth.URL, "trustforwardheader", "false")
	w = do(h, "GET", "http://app.example/", "198.51.100.7:1")
	if got := strings.Join(w.Header().Values("Set-Cookie"), " | "); got != "authCookie=Backend | backendCookie=Backend" {
		t.Errorf("Set-Cookie %q, want the upstream's", got)
	}
}

// selfSigned makes a certificate and key for 127.0.0.1, in PEM.
func selfSigned(t *testing.T, cn string) (certPEM, keyPEM string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	cert, err = tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, cert
}

func TestForwardAuthTLS(t *testing.T) {
	serverPEM, _, serverCert := selfSigned(t, "auth")
	clientPEM, clientKey, _ := selfSigned(t, "baton")
	clientPool := x509.NewCertPool()
	clientPool.AppendCertsFromPEM([]byte(clientPEM))
	var sawClient string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			sawClient = r.TLS.PeerCertificates[0].Subject.CommonName
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: clientPool}
	srv.StartTLS()
	defer srv.Close()

	next := &recorder{}
	// The system roots do not know the auth server's certificate.
	h := build(t, "forwardauth", Env{}, next, "address", srv.URL, "trustforwardheader", "false")
	if w := do(h, "GET", "http://app.example/", "198.51.100.7:1"); w.Code != 500 {
		t.Errorf("unknown certificate: status %d, want 500", w.Code)
	}
	h = build(t, "forwardauth", Env{}, next, "address", srv.URL, "trustforwardheader", "false", "tls.ca", serverPEM)
	if w := do(h, "GET", "http://app.example/", "198.51.100.7:1"); w.Code != 200 || sawClient != "" {
		t.Errorf("tls.ca: status %d, client certificate %q; want 200 and none", w.Code, sawClient)
	}
	h = build(t, "forwardauth", Env{}, next, "address", srv.URL, "trustforwardheader", "false", "tls.insecureskipverify", "true")
	if w := do(h, "GET", "http://app.example/", "198.51.100.7:1"); w.Code != 200 {
		t.Errorf("tls.insecureSkipVerify: status %d, want 200", w.Code)
	}
	h = build(t, "forwardauth", Env{}, next, "address", srv.URL, "trustforwardheader", "false", "tls.ca", serverPEM, "tls.cert", clientPEM, "tls.key", clientKey)
	if w := do(h, "GET", "http://app.example/", "198.51.100.7:1"); w.Code != 200 || sawClient != "baton" {
		t.Errorf("tls.cert and tls.key: status %d, client certificate %q; want 200 and baton", w.Code, sawClient)
	}
	// A key that is not the certificate's.
	_, otherKey, _ := selfSigned(t, "other")
	_, err := buildErr("forwardauth", Env{}, next, "address", srv.URL, "tls.cert", clientPEM, "tls.key", otherKey)
	wantOptionError(t, err, "tls.cert")
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("the error shows the key: %v", err)
	}
}

func BenchmarkForwardAuth(b *testing.B) {
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Remote-User", "alice")
	}))
	defer auth.Close()
	h, err := buildErr("forwardauth", Env{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		"address", auth.URL, "trustforwardheader", "false", "authresponseheaders", "Remote-User")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", "http://app.example/page?x=1", nil)
			r.Header.Set("Cookie", "authelia_session=abc")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}
