package middleware

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"
)

// forwardAuth is Traefik's forwardAuth (v3.7): each request is first put to
// an authentication server (Authelia, Authentik, oauth2-proxy...) at
// address, as a GET (the request's own method with preserveRequestMethod),
// with the request's headers and X-Forwarded-Method, -Proto, -Host, -Port,
// -Uri and -For describing it, and without its body (with it, up to
// maxBodySize, with forwardBody).
//
//   - The server answers 2xx: the request goes on, with the headers named
//     in authResponseHeaders, and those matching authResponseHeadersRegex,
//     set from the answer (a client's own are removed, whether the answer
//     has them or not), and, for the cookies named in
//     addAuthCookiesToResponse, the answer's Set-Cookie replacing the
//     upstream's in the response.
//   - It answers anything else: that answer (status, headers but the
//     hop-by-hop ones, body) is the client's; a relative Location is made
//     absolute against address unless preserveLocationHeader. This is how
//     Authelia's 302 to its login page reaches the browser. A 401 is a 302
//     to authSigninURL when that is set.
//   - It cannot be reached, or fails: 500 (499 when the client went away).
//     A body larger than maxBodySize, or an answer larger than
//     maxResponseBodySize, is 401.
//
// The client is baton's own: 30s timeout as Traefik's, redirects not
// followed, TLS per tls.ca, tls.cert, tls.key (PEM, given in the label) and
// tls.insecureSkipVerify.
//
// trustForwardHeader has Traefik's three cases. The X-Forwarded-* headers
// the request arrives with are first taken as Traefik's entry point leaves
// them: a client's are dropped unless the edge trusts its peer
// (proxy.trusted_proxies), then X-Real-Ip, X-Forwarded-Proto, -Port and
// -Host are set where missing. Then:
//   - unset (Traefik warns): X-Forwarded-For is the peer, -Proto, -Method,
//     -Host and -Uri are the request's; other X-Forwarded-* go as they are.
//   - false: every X-Forwarded-* is the request's, none from before.
//   - true: those from before are kept (X-Forwarded-For gets the peer
//     appended), the missing ones are the request's.
//
// So a client that is not behind a trusted proxy cannot tell the auth server
// another host or path than the one it asked for, whatever the option.
//
// headerField names, in Traefik, the auth answer's header whose value is the
// user for the access log; baton logs it at debug level.
func init() { register("forwardauth", newForwardAuth) }

const forwardAuthTimeout = 30 * time.Second

type forwardAuth struct {
	next                 http.Handler
	address              string
	client               *http.Client
	trust                *bool
	requestHeaders       []string // canonical; empty: all
	responseHeaders      []string // canonical
	responseHeadersRegex *regexp.Regexp
	authCookies          map[string]bool
	headerField          string
	forwardBody          bool
	maxBodySize          int64 // -1: no limit
	maxResponseBodySize  int64 // -1: no limit
	preserveLocation     bool
	preserveMethod       bool
	signinURL            string
	envClientIP          func(*http.Request) netip.Addr
	log                  *zap.Logger
}

// hopHeaders are not sent to the auth server nor copied from its answer
// (Traefik's list: Proxy-Authorization and Proxy-Authenticate go through).
var forwardAuthHopHeaders = []string{"Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// xHeaders are the X- headers Traefik manages (forwardedheaders.XHeadersSet).
var xHeaders = []string{
	"X-Forwarded-Proto", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port",
	"X-Forwarded-Server", "X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-Prefix",
	"X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info", "X-Real-Ip",
}

func newForwardAuth(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	log := kindLogger(s, env)
	fa := &forwardAuth{next: next, maxBodySize: -1, maxResponseBodySize: -1, envClientIP: env.ClientIP, log: log}

	addr, _ := o.get("address")
	u, err := url.Parse(strings.TrimSpace(addr))
	if addr == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, &OptionError{Option: "address", Value: addr, Reason: "required: the auth server's http:// or https:// URL"}
	}
	fa.address = u.String()

	if v, set, err := accessBool(o, "trustforwardheader"); err != nil {
		return nil, err
	} else if set {
		fa.trust = &v
	} else {
		log.Warn("forwardAuth: trustForwardHeader is not set: X-Forwarded-For, -Proto, -Method, -Host and -Uri are the request's, other X-Forwarded-* headers go to the auth server as they arrived (Traefik's legacy behaviour); set it to true or false")
	}
	for _, name := range list(valueOf(o.get("authrequestheaders"))) {
		if !isHeaderToken(name) {
			return nil, &OptionError{Option: "authrequestheaders", Value: name, Reason: "not an HTTP header name"}
		}
		fa.requestHeaders = append(fa.requestHeaders, http.CanonicalHeaderKey(name))
	}
	if fa.trust != nil && *fa.trust && len(fa.requestHeaders) > 0 {
		fa.requestHeaders = append(fa.requestHeaders, xHeaders...)
	}
	for _, name := range list(valueOf(o.get("authresponseheaders"))) {
		if !isHeaderToken(name) {
			return nil, &OptionError{Option: "authresponseheaders", Value: name, Reason: "not an HTTP header name"}
		}
		fa.responseHeaders = append(fa.responseHeaders, http.CanonicalHeaderKey(name))
	}
	if re, ok := o.get("authresponseheadersregex"); ok && re != "" {
		if fa.responseHeadersRegex, err = regexp.Compile(re); err != nil {
			return nil, &OptionError{Option: "authresponseheadersregex", Value: re, Reason: "not a regular expression: " + err.Error()}
		}
	}
	if names := list(valueOf(o.get("addauthcookiestoresponse"))); len(names) > 0 {
		fa.authCookies = map[string]bool{}
		for _, n := range names {
			fa.authCookies[n] = true
		}
	}
	if hf, ok := o.get("headerfield"); ok && hf != "" {
		if !isHeaderToken(hf) {
			return nil, &OptionError{Option: "headerfield", Value: hf, Reason: "not an HTTP header name"}
		}
		fa.headerField = http.CanonicalHeaderKey(hf)
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{
		{"forwardbody", &fa.forwardBody},
		{"preservelocationheader", &fa.preserveLocation},
		{"preserverequestmethod", &fa.preserveMethod},
	} {
		if *b.dst, _, err = accessBool(o, b.key); err != nil {
			return nil, err
		}
	}
	for _, n := range []struct {
		key string
		dst *int64
	}{
		{"maxbodysize", &fa.maxBodySize},
		{"maxresponsebodysize", &fa.maxResponseBodySize},
	} {
		v, set, err := accessInt(o, n.key, -1)
		if err != nil {
			return nil, err
		}
		if set {
			*n.dst = v
		}
	}
	if fa.forwardBody && fa.maxBodySize < 0 {
		log.Warn("forwardAuth: forwardBody without maxBodySize reads request bodies of any size into memory; set maxBodySize")
	}
	if fa.maxResponseBodySize < 0 {
		log.Warn("forwardAuth: maxResponseBodySize is not set: the auth server's answers are read whatever their size; set it")
	}
	if v, ok := o.get("authsigninurl"); ok && v != "" {
		if _, err := url.Parse(v); err != nil {
			return nil, &OptionError{Option: "authsigninurl", Value: v, Reason: "not a URL"}
		}
		fa.signinURL = v
	}
	tlsConf, err := forwardAuthTLS(o, log)
	if err != nil {
		return nil, err
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}

	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: forwardAuthTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConf,
	}
	fa.client = &http.Client{
		Transport:     tr,
		Timeout:       forwardAuthTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return fa, nil
}

// valueOf is an option's value, "" when unset.
func valueOf(v string, _ bool) string { return v }

// forwardAuthTLS reads tls.*. The CA, certificate and key are PEM given in
// the label: baton reads no files named by labels (Traefik takes a path or
// the contents).
func forwardAuthTLS(o *options, log *zap.Logger) (*tls.Config, error) {
	ca, caSet := o.get("tls.ca")
	cert, certSet := o.get("tls.cert")
	key, keySet := o.get("tls.key")
	skip, _, err := accessBool(o, "tls.insecureskipverify")
	if err != nil {
		return nil, err
	}
	if _, ok := o.get("tls.caoptional"); ok {
		log.Warn("forwardAuth: tls.caOptional is deprecated and has no effect (as in Traefik)")
	}
	if !caSet && !certSet && !keySet && !skip {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skip}
	pemOnly := func(option, v string) error {
		if !strings.Contains(v, "-----BEGIN ") {
			return &OptionError{Option: option, Value: v, Reason: "not PEM: baton takes the PEM itself in the label, it reads no files named by labels"}
		}
		return nil
	}
	if caSet {
		if err := pemOnly("tls.ca", ca); err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, &OptionError{Option: "tls.ca", Value: "(PEM)", Reason: "no certificate in the PEM"}
		}
		conf.RootCAs = pool
	}
	if certSet != keySet {
		missing := "tls.key"
		if keySet {
			missing = "tls.cert"
		}
		return nil, &OptionError{Option: missing, Value: "", Reason: "tls.cert and tls.key go together"}
	}
	if certSet {
		if err := pemOnly("tls.cert", cert); err != nil {
			return nil, err
		}
		if err := pemOnly("tls.key", key); err != nil {
			return nil, &OptionError{Option: "tls.key", Value: "(not shown)", Reason: err.(*OptionError).Reason}
		}
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return nil, &OptionError{Option: "tls.cert", Value: "(PEM)", Reason: "not a certificate and key pair: " + err.Error()}
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}

var errAuthBodyTooLarge = errors.New("body too large")

func (fa *forwardAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := http.MethodGet
	if fa.preserveMethod {
		method = r.Method
	}
	areq, err := http.NewRequestWithContext(r.Context(), method, fa.address, nil)
	if err != nil {
		fa.fail(w, r, http.StatusInternalServerError, "forwardAuth: the auth request", err)
		return
	}
	// A CONNECT body of unknown length is tunnel data, not for the auth server.
	if fa.forwardBody && !(r.Method == http.MethodConnect && r.ContentLength < 0) {
		body, err := readLimited(r.Body, fa.maxBodySize)
		if errors.Is(err, errAuthBodyTooLarge) {
			fa.fail(w, r, http.StatusUnauthorized, "forwardAuth: request body larger than maxBodySize", nil)
			return
		}
		if err != nil {
			fa.fail(w, r, http.StatusInternalServerError, "forwardAuth: reading the request body", err)
			return
		}
		if body != nil {
			areq.ContentLength = r.ContentLength
			areq.TransferEncoding = r.TransferEncoding
			areq.Body = io.NopCloser(bytes.NewReader(body))
			areq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	areq.Header = fa.authHeader(r)

	resp, err := fa.client.Do(areq)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			status = 499
		}
		fa.log.Error("forwardAuth: calling the auth server", zap.String("address", fa.address), zap.Error(err))
		fa.fail(w, r, status, "", nil)
		return
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, fa.maxResponseBodySize)
	if errors.Is(err, errAuthBodyTooLarge) {
		fa.fail(w, r, http.StatusUnauthorized, "forwardAuth: auth answer larger than maxResponseBodySize", nil)
		return
	}
	if err != nil {
		fa.fail(w, r, http.StatusInternalServerError, "forwardAuth: reading the auth answer", err)
		return
	}
	if fa.headerField != "" {
		if ce := fa.log.Check(zap.DebugLevel, "forwardAuth: user"); ce != nil {
			ce.Write(zap.String("user", resp.Header.Get(fa.headerField)))
		}
	}

	if fa.signinURL != "" && resp.StatusCode == http.StatusUnauthorized {
		http.Redirect(w, r, fa.signinURL, http.StatusFound)
		return
	}
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		fa.relayAnswer(w, r, resp, body)
		return
	}

	for _, k := range fa.responseHeaders {
		delete(r.Header, k)
		if vv := resp.Header[k]; len(vv) > 0 {
			r.Header[k] = append([]string(nil), vv...)
		}
	}
	if re := fa.responseHeadersRegex; re != nil {
		for k := range r.Header {
			if re.MatchString(k) {
				delete(r.Header, k)
			}
		}
		for k, vv := range resp.Header {
			if re.MatchString(k) {
				r.Header[k] = append([]string(nil), vv...)
			}
		}
	}
	if fa.authCookies != nil {
		var cookies []*http.Cookie
		for _, c := range resp.Cookies() {
			if fa.authCookies[c.Name] {
				cookies = append(cookies, c)
			}
		}
		if len(cookies) > 0 {
			w = &authCookieWriter{ResponseWriter: w, names: fa.authCookies, cookies: cookies}
		}
	}
	fa.next.ServeHTTP(w, r)
}

// relayAnswer gives the client the auth server's answer.
func (fa *forwardAuth) relayAnswer(w http.ResponseWriter, r *http.Request, resp *http.Response, body []byte) {
	if resp.StatusCode < http.StatusOK {
		// Not an answer a client can be given (a 101 from an auth server).
		fa.fail(w, r, http.StatusInternalServerError, "forwardAuth: informational answer from the auth server", fmt.Errorf("status %d", resp.StatusCode))
		return
	}
	dst := w.Header()
	for k, vv := range resp.Header {
		dst[k] = append(dst[k], vv...)
	}
	for _, k := range forwardAuthHopHeaders {
		delete(dst, k)
	}
	var loc *url.URL
	var err error
	if fa.preserveLocation {
		if lv := resp.Header.Get("Location"); lv != "" {
			loc, err = url.Parse(lv)
		}
	} else if loc, err = resp.Location(); errors.Is(err, http.ErrNoLocation) {
		loc, err = nil, nil
	}
	if err != nil {
		fa.fail(w, r, http.StatusInternalServerError, "forwardAuth: the auth answer's Location", err)
		return
	}
	if loc != nil && loc.String() != "" {
		dst.Set("Location", loc.String())
	}
	if ce := fa.log.Check(zap.DebugLevel, "forwardAuth: denied"); ce != nil {
		ce.Write(zap.Int("status", resp.StatusCode))
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// fail answers status with no body, as Traefik does.
func (fa *forwardAuth) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if msg != "" {
		if ce := fa.log.Check(zap.DebugLevel, msg); ce != nil {
			ce.Write(zap.Error(err))
		}
	}
	w.WriteHeader(status)
}

// readLimited reads r whole, or at most max bytes (max >= 0): more is
// errAuthBodyTooLarge. An empty body is nil.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	if r == nil || r == http.NoBody {
		return nil, nil
	}
	if max < 0 {
		b, err := io.ReadAll(r)
		if len(b) == 0 {
			b = nil
		}
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errAuthBodyTooLarge
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// authHeader is the header of the auth request for r.
func (fa *forwardAuth) authHeader(r *http.Request) http.Header {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = ""
	}

	// Traefik's entry point, first.
	if !trustedPeer(fa.envClientIP, r) {
		deleteXHeaders(h)
	}
	if h.Get("X-Real-Ip") == "" && peer != "" {
		ip, _, _ := strings.Cut(peer, "%")
		h.Set("X-Real-Ip", ip)
	}
	if h.Get("X-Forwarded-Proto") == "" {
		h.Set("X-Forwarded-Proto", entryPointProto(r))
	}
	if h.Get("X-Forwarded-Port") == "" {
		h.Set("X-Forwarded-Port", forwardedPortOf(r, h))
	}
	if h.Get("X-Forwarded-Host") == "" && r.Host != "" {
		h.Set("X-Forwarded-Host", r.Host)
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) > 1 {
		h.Set("X-Forwarded-For", strings.Join(xff, ", "))
	}
	removeConnectionListed(h)
	for _, k := range forwardAuthHopHeaders {
		delete(h, k)
	}

	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	if fa.trust == nil {
		// Traefik's legacy writeHeader.
		h = filterHeaders(h, fa.requestHeaders)
		if peer != "" {
			h.Set("X-Forwarded-For", peer)
		}
		h.Set("X-Forwarded-Proto", proto)
		h.Set("X-Forwarded-Method", r.Method)
		h.Set("X-Forwarded-Host", r.Host)
		h.Set("X-Forwarded-Uri", r.URL.RequestURI())
		return h
	}
	if !*fa.trust {
		deleteXHeaders(h)
	}
	if _, ok := r.Header["User-Agent"]; !ok {
		// No Go default User-Agent for a request that had none.
		h["User-Agent"] = []string{""}
	}
	h = filterHeaders(h, fa.requestHeaders)
	if peer != "" {
		if prior, ok := h["X-Forwarded-For"]; ok {
			peer = strings.Join(prior, ", ") + ", " + peer
		}
		h.Set("X-Forwarded-For", peer)
	}
	setMissing := func(k, v string) {
		if _, ok := h[k]; !ok {
			h.Set(k, v)
		}
	}
	setMissing("X-Forwarded-Method", r.Method)
	setMissing("X-Forwarded-Proto", proto)
	if _, ok := h["X-Forwarded-Port"]; !ok {
		h.Set("X-Forwarded-Port", forwardedPortOf(r, h))
	}
	setMissing("X-Forwarded-Host", r.Host)
	setMissing("X-Forwarded-Uri", r.URL.RequestURI())
	return h
}

// entryPointProto is X-Forwarded-Proto as Traefik's entry point sets it.
func entryPointProto(r *http.Request) string {
	ws := headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
	switch {
	case ws && r.TLS != nil:
		return "wss"
	case ws:
		return "ws"
	case r.TLS != nil:
		return "https"
	}
	return "http"
}

// headerHasToken reports whether the first line of h[k] lists token (as
// Traefik's isWebsocketRequest reads it).
func headerHasToken(h http.Header, k, token string) bool {
	v := h.Get(k)
	for {
		before, after, found := strings.Cut(v, ",")
		if strings.EqualFold(token, strings.TrimSpace(before)) {
			return true
		}
		if !found {
			return false
		}
		v = after
	}
}

// forwardedPortOf is Traefik's X-Forwarded-Port: the Host's port, else 443
// for https (as h says) or TLS, else 80.
func forwardedPortOf(r *http.Request, h http.Header) string {
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		return port
	}
	if p := h.Get("X-Forwarded-Proto"); p == "https" || p == "wss" {
		return "443"
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

// deleteXHeaders removes Traefik's X- headers, and their underscore forms
// (X_Forwarded_For), as forwardedheaders.DeleteXForwardedHeaders does.
func deleteXHeaders(h http.Header) {
	for k := range h {
		if len(k) == 0 || (k[0] != 'X' && k[0] != 'x') {
			continue
		}
		c := http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-"))
		for _, x := range xHeaders {
			if c == x {
				delete(h, k)
				break
			}
		}
	}
}

// removeConnectionListed removes the headers the Connection header lists,
// but not Traefik's X- headers (its entry point keeps them, RFC 9110 §7.6.1
// lets an intermediary keep what it manages).
func removeConnectionListed(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			name = textproto.TrimString(name)
			if name == "" {
				continue
			}
			c := http.CanonicalHeaderKey(name)
			managed := false
			for _, x := range xHeaders {
				if c == x {
					managed = true
				}
			}
			if !managed {
				delete(h, c)
			}
		}
	}
}

// filterHeaders keeps only the allowed headers (all when allowed is empty).
func filterHeaders(h http.Header, allowed []string) http.Header {
	if len(allowed) == 0 {
		return h
	}
	out := make(http.Header, len(allowed))
	for _, k := range allowed {
		if vv := h.Values(k); len(vv) > 0 {
			out[k] = vv
		}
	}
	return out
}

// authCookieWriter puts the auth server's cookies named in
// addAuthCookiesToResponse in the response, instead of the upstream's of the
// same names.
type authCookieWriter struct {
	http.ResponseWriter
	names   map[string]bool
	cookies []*http.Cookie
	done    bool
}

func (a *authCookieWriter) modify() {
	if a.done {
		return
	}
	a.done = true
	h := a.ResponseWriter.Header()
	var kept []string
	for _, line := range h["Set-Cookie"] {
		if c, err := http.ParseSetCookie(line); err == nil && a.names[c.Name] {
			continue
		}
		kept = append(kept, line)
	}
	for _, c := range a.cookies {
		if v := c.String(); v != "" {
			kept = append(kept, v)
		}
	}
	h["Set-Cookie"] = kept
}

func (a *authCookieWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		a.modify()
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *authCookieWriter) Write(p []byte) (int, error) {
	a.modify()
	return a.ResponseWriter.Write(p)
}

func (a *authCookieWriter) Flush() {
	a.modify()
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (a *authCookieWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(a.ResponseWriter).Hijack()
}

func (a *authCookieWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
