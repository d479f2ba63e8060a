package middleware

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// headersMiddleware is Traefik's headers middleware: custom request and
// response headers, the security headers Traefik sets through
// unrolled/secure, and CORS. As in Traefik the request passes, in order:
//
//  1. CORS preflight: an OPTIONS request with Origin and
//     Access-Control-Request-Method is answered here, 200 with an empty body
//     and only the Access-Control-* headers (when any CORS option is set);
//  2. custom request headers: set, or removed when the value is empty
//     ("Host" sets the request's host);
//  3. allowedHosts: a host (the Host field, or the first hostsProxyHeaders
//     field present) not on the list is answered 500 "Bad Host";
//  4. next, through a ResponseWriter that, when the status is written
//     (whoever writes it: the upstream's answer or baton's own 502), sets the
//     security headers, then the custom response headers (which win; an
//     empty value removes the header), then the CORS response headers.
//
// Every header value is computed when the middleware is built. Differences
// from Traefik, all toward not sending a header on a claim baton did not
// verify: "HTTPS" for stsSeconds and publicKey is a TLS connection or a
// sslProxyHeaders match (Traefik also takes an absolute-form https://
// target on a cleartext connection); and a response that next ends without
// writing anything still gets the headers (Traefik's does not).
type headersMiddleware struct {
	next http.Handler

	reqOps  []headerOp
	setHost bool
	host    string
	respOps []headerOp

	cors                 bool
	allowCredentials     bool
	allowHeaders         []string // joined, nil when unset
	allowHeadersWildcard bool     // "*" listed and credentials allowed: echo the request's
	allowMethods         []string
	allowMethodsWildcard bool
	originList           []string
	originVals           [][]string // originList's entries as header values
	originRegex          []*regexp.Regexp
	exposeHeaders        []string // nil when unset, or "*" with credentials (Traefik sends none then)
	maxAge               []string
	addVary              bool

	secure            bool
	allowedHosts      []string
	hostsProxyHeaders []string
	sslProxyHeaders   []headerOp
	isDevelopment     bool
	forceSTS          bool
	sts               []string
	publicKey         []string
	static            []headerOp // frame options, nosniff, XSS, CSP, referrer, permissions

	writers sync.Pool
}

// headerOp sets name to value, or deletes name when value is nil. The value
// slices are shared by every response (len = cap = 1, so an append copies).
type headerOp struct {
	name  string
	value []string
}

func init() { register("headers", buildHeaders) }

var (
	valTrue  = []string{"true"}[:1:1]
	valDeny  = []string{"DENY"}[:1:1]
	valNosn  = []string{"nosniff"}[:1:1]
	valXSS   = []string{"1; mode=block"}[:1:1]
	valZero  = []string{"0"}[:1:1]
	valEmpty = []string{""}[:1:1]

	valOrigin         = []string{"Origin"}[:1:1]
	valAcceptEncoding = []string{"Accept-Encoding"}[:1:1]
)

func fieldValue(v string) []string { return []string{v}[:1:1] }

// framingHeaders may be removed by a custom header but not set: they are
// the message's framing and connection, not content a label should change.
var framingHeaders = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Upgrade": true,
}

func buildHeaders(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	if err := refuseOptions(o, "deprecated in Traefik v3, which ignores it; redirect with a redirectscheme middleware instead, and remove this label",
		"sslredirect", "ssltemporaryredirect", "sslforcehost"); err != nil {
		return nil, err
	}
	if err := refuseOptions(o, "deprecated in Traefik v3, which ignores it; redirect with a redirectregex middleware instead, and remove this label", "sslhost"); err != nil {
		return nil, err
	}
	if err := refuseOptions(o, "deprecated in Traefik v3, which ignores it; use permissionspolicy instead", "featurepolicy"); err != nil {
		return nil, err
	}

	h := &headersMiddleware{next: next}
	var err error
	fail := func(e error) (http.Handler, error) { return nil, e }

	// Custom headers.
	custom := func(prefix string, request bool) ([]headerOp, error) {
		var ops []headerOp
		for name, v := range o.prefixed(prefix) {
			key := prefix + name
			if !validFieldName(name) {
				return nil, &OptionError{Option: key, Value: v, Reason: "not a valid header field name"}
			}
			if !validFieldValue(v) {
				return nil, &OptionError{Option: key, Value: v, Reason: "a header value can not hold control characters (CR, LF, NUL)"}
			}
			canon := http.CanonicalHeaderKey(name)
			if v != "" && framingHeaders[canon] {
				return nil, &OptionError{Option: key, Value: v, Reason: canon + " is message framing or connection control; baton will not let a label set it (an empty value removing it is allowed)"}
			}
			if request && canon == "Host" {
				if v != "" {
					h.setHost, h.host = true, v
				}
				continue // Traefik: an empty Host removes the (absent) Host field: nothing
			}
			op := headerOp{name: canon}
			if v != "" {
				op.value = fieldValue(v)
			}
			ops = append(ops, op)
		}
		sortOps(ops)
		return ops, nil
	}
	if h.reqOps, err = custom("customrequestheaders.", true); err != nil {
		return fail(err)
	}
	if h.respOps, err = custom("customresponseheaders.", false); err != nil {
		return fail(err)
	}
	hasCustom := len(h.reqOps) > 0 || len(h.respOps) > 0 || h.setHost

	// CORS.
	if h.allowCredentials, err = parseBoolOption(o, "accesscontrolallowcredentials", false); err != nil {
		return fail(err)
	}
	listOpt := func(key string) ([]string, error) {
		v, _ := o.get(key)
		l := list(v)
		for _, item := range l {
			if !validFieldValue(item) {
				return nil, &OptionError{Option: key, Value: v, Reason: "a header value can not hold control characters"}
			}
		}
		return l, nil
	}
	allowHeaders, err := listOpt("accesscontrolallowheaders")
	if err != nil {
		return fail(err)
	}
	allowMethods, err := listOpt("accesscontrolallowmethods")
	if err != nil {
		return fail(err)
	}
	if h.originList, err = listOpt("accesscontrolalloworiginlist"); err != nil {
		return fail(err)
	}
	for _, item := range h.originList {
		h.originVals = append(h.originVals, fieldValue(item))
	}
	originRegex, err := listOpt("accesscontrolalloworiginlistregex")
	if err != nil {
		return fail(err)
	}
	for _, e := range originRegex {
		re, err := regexp.Compile(e)
		if err != nil {
			return fail(&OptionError{Option: "accesscontrolalloworiginlistregex", Value: e, Reason: err.Error()})
		}
		h.originRegex = append(h.originRegex, re)
	}
	expose, err := listOpt("accesscontrolexposeheaders")
	if err != nil {
		return fail(err)
	}
	maxAge, maxAgeSet, err := parseIntOption(o, "accesscontrolmaxage", -1<<63, 1<<63-1)
	if err != nil {
		return fail(err)
	}
	if h.addVary, err = parseBoolOption(o, "addvaryheader", false); err != nil {
		return fail(err)
	}
	h.cors = h.allowCredentials || len(allowHeaders) > 0 || len(allowMethods) > 0 || len(h.originList) > 0 ||
		len(h.originRegex) > 0 || len(expose) > 0 || maxAgeSet || h.addVary
	if len(allowHeaders) > 0 {
		h.allowHeaders = fieldValue(strings.Join(allowHeaders, ","))
		h.allowHeadersWildcard = h.allowCredentials && listHas(allowHeaders, "*")
	}
	if len(allowMethods) > 0 {
		h.allowMethods = fieldValue(strings.Join(allowMethods, ","))
		h.allowMethodsWildcard = h.allowCredentials && listHas(allowMethods, "*")
	}
	if len(expose) > 0 && !(h.allowCredentials && listHas(expose, "*")) {
		h.exposeHeaders = fieldValue(strings.Join(expose, ","))
	}
	if maxAgeSet {
		h.maxAge = fieldValue(strconv.FormatInt(maxAge, 10))
	}

	// Security headers.
	secureSet := false // Traefik's HasSecureHeadersDefined
	flag := func(key string) (bool, error) {
		b, err := parseBoolOption(o, key, false)
		secureSet = secureSet || b
		return b, err
	}
	str := func(key string) (string, error) {
		v, _ := o.get(key)
		if !validFieldValue(v) {
			return "", &OptionError{Option: key, Value: v, Reason: "a header value can not hold control characters (CR, LF, NUL)"}
		}
		secureSet = secureSet || v != ""
		return v, nil
	}
	if h.allowedHosts, err = listOpt("allowedhosts"); err != nil {
		return fail(err)
	}
	proxyHeaders, err := listOpt("hostsproxyheaders")
	if err != nil {
		return fail(err)
	}
	for _, name := range proxyHeaders {
		if !validFieldName(name) {
			return fail(&OptionError{Option: "hostsproxyheaders", Value: name, Reason: "not a valid header field name"})
		}
		h.hostsProxyHeaders = append(h.hostsProxyHeaders, http.CanonicalHeaderKey(name))
	}
	for name, v := range o.prefixed("sslproxyheaders.") {
		if !validFieldName(name) {
			return fail(&OptionError{Option: "sslproxyheaders." + name, Value: v, Reason: "not a valid header field name"})
		}
		h.sslProxyHeaders = append(h.sslProxyHeaders, headerOp{name: http.CanonicalHeaderKey(name), value: fieldValue(v)})
	}
	sortOps(h.sslProxyHeaders)
	secureSet = secureSet || len(h.allowedHosts) > 0 || len(h.hostsProxyHeaders) > 0 || len(h.sslProxyHeaders) > 0

	stsSeconds, stsSet, err := parseIntOption(o, "stsseconds", 0, 1<<63-1)
	if err != nil {
		return fail(err)
	}
	secureSet = secureSet || stsSet
	stsSub, err := flag("stsincludesubdomains")
	if err != nil {
		return fail(err)
	}
	stsPreload, err := flag("stspreload")
	if err != nil {
		return fail(err)
	}
	if h.forceSTS, err = flag("forcestsheader"); err != nil {
		return fail(err)
	}
	if stsSeconds != 0 {
		v := "max-age=" + strconv.FormatInt(stsSeconds, 10)
		if stsSub {
			v += "; includeSubDomains"
		}
		if stsPreload {
			v += "; preload"
		}
		h.sts = fieldValue(v)
	}
	frameDeny, err := flag("framedeny")
	if err != nil {
		return fail(err)
	}
	frameValue, err := str("customframeoptionsvalue")
	if err != nil {
		return fail(err)
	}
	switch {
	case frameValue != "":
		h.static = append(h.static, headerOp{"X-Frame-Options", fieldValue(frameValue)})
	case frameDeny:
		h.static = append(h.static, headerOp{"X-Frame-Options", valDeny})
	}
	nosniff, err := flag("contenttypenosniff")
	if err != nil {
		return fail(err)
	}
	if nosniff {
		h.static = append(h.static, headerOp{"X-Content-Type-Options", valNosn})
	}
	xss, err := flag("browserxssfilter")
	if err != nil {
		return fail(err)
	}
	xssValue, err := str("custombrowserxssvalue")
	if err != nil {
		return fail(err)
	}
	switch {
	case xssValue != "":
		h.static = append(h.static, headerOp{"X-Xss-Protection", fieldValue(xssValue)})
	case xss:
		h.static = append(h.static, headerOp{"X-Xss-Protection", valXSS})
	}
	for _, hv := range []struct{ key, header string }{
		{"contentsecuritypolicy", "Content-Security-Policy"},
		{"contentsecuritypolicyreportonly", "Content-Security-Policy-Report-Only"},
		{"referrerpolicy", "Referrer-Policy"},
		{"permissionspolicy", "Permissions-Policy"},
	} {
		v, err := str(hv.key)
		if err != nil {
			return fail(err)
		}
		if strings.HasPrefix(hv.key, "contentsecuritypolicy") && (strings.Contains(v, "$NONCE") || strings.Contains(v, "%[1]s")) {
			return fail(&OptionError{Option: hv.key, Value: v, Reason: "a per-request nonce ($NONCE) would be one the app never learns (Traefik keeps it in its own request context); baton refuses it"})
		}
		if v != "" {
			h.static = append(h.static, headerOp{hv.header, fieldValue(v)})
		}
	}
	publicKey, err := str("publickey")
	if err != nil {
		return fail(err)
	}
	if publicKey != "" {
		h.publicKey = fieldValue(publicKey)
	}
	if h.isDevelopment, err = flag("isdevelopment"); err != nil {
		return fail(err)
	}
	h.secure = secureSet

	if err := o.unknown(); err != nil {
		return fail(err)
	}
	if !h.secure && !hasCustom && !h.cors {
		return fail(errors.New("no option of the headers middleware is set (Traefik refuses such a middleware: \"headers configuration not valid\")"))
	}
	h.writers.New = func() any { return &headersWriter{h: h} }
	return h, nil
}

func (h *headersMiddleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cors && r.Method == http.MethodOptions {
		if acrm, origin := r.Header.Get("Access-Control-Request-Method"), r.Header.Get("Origin"); acrm != "" && origin != "" {
			h.preflight(w, r, origin, acrm)
			return
		}
	}
	for _, op := range h.reqOps {
		if op.value == nil {
			delete(r.Header, op.name)
		} else {
			r.Header[op.name] = op.value
		}
	}
	if h.setHost {
		r.Host = h.host
	}

	hw := h.writers.Get().(*headersWriter)
	hw.w = w
	if h.cors {
		hw.origin = r.Header.Get("Origin")
	}
	if h.secure {
		if !h.goodHost(r) {
			http.Error(hw, "Bad Host", http.StatusInternalServerError)
			h.release(hw)
			return
		}
		hw.secure = true
		hw.ssl = h.isSSL(r)
	}
	h.next.ServeHTTP(hw, r)
	if !hw.wrote && !hw.hijacked {
		hw.WriteHeader(http.StatusOK)
	}
	h.release(hw)
}

func (h *headersMiddleware) release(hw *headersWriter) {
	*hw = headersWriter{h: h}
	h.writers.Put(hw)
}

// goodHost is unrolled/secure's AllowedHosts check (off under isDevelopment).
func (h *headersMiddleware) goodHost(r *http.Request) bool {
	if len(h.allowedHosts) == 0 || h.isDevelopment {
		return true
	}
	host := r.Host
	for _, name := range h.hostsProxyHeaders {
		if v := r.Header.Get(name); v != "" {
			host = v
			break
		}
	}
	for _, allowed := range h.allowedHosts {
		if strings.EqualFold(allowed, host) {
			return true
		}
	}
	return false
}

func (h *headersMiddleware) isSSL(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	for _, op := range h.sslProxyHeaders {
		if r.Header.Get(op.name) == op.value[0] {
			return true
		}
	}
	return false
}

// preflight answers a CORS preflight request as Traefik does.
func (h *headersMiddleware) preflight(w http.ResponseWriter, r *http.Request, origin, acrm string) {
	hd := w.Header()
	if h.allowCredentials {
		hd["Access-Control-Allow-Credentials"] = valTrue
	}
	if h.allowHeadersWildcard {
		if acrh := r.Header.Get("Access-Control-Request-Headers"); acrh != "" {
			hd["Access-Control-Allow-Headers"] = fieldValue(acrh)
		}
	} else if h.allowHeaders != nil {
		hd["Access-Control-Allow-Headers"] = h.allowHeaders
	}
	if h.allowMethodsWildcard {
		hd["Access-Control-Allow-Methods"] = fieldValue(acrm)
	} else if h.allowMethods != nil {
		hd["Access-Control-Allow-Methods"] = h.allowMethods
	}
	if v, ok := h.matchOrigin(origin); ok {
		hd["Access-Control-Allow-Origin"] = v
	}
	if h.maxAge != nil {
		hd["Access-Control-Max-Age"] = h.maxAge
	}
	if h.exposeHeaders != nil {
		hd["Access-Control-Expose-Headers"] = h.exposeHeaders
	}
	hd["Content-Length"] = valZero
	w.WriteHeader(http.StatusOK)
}

var valWildcard = []string{"*"}[:1:1]

// matchOrigin is the Access-Control-Allow-Origin for origin: an exact list
// entry, "*" (the origin itself when credentials are allowed, which "*"
// can not be sent with), or the origin when one of the expressions matches.
func (h *headersMiddleware) matchOrigin(origin string) ([]string, bool) {
	for i, item := range h.originList {
		switch item {
		case origin:
			return h.originVals[i], true
		case "*":
			if h.allowCredentials {
				if origin == "" {
					return valEmpty, true
				}
				return fieldValue(origin), true
			}
			return valWildcard, true
		}
	}
	for _, re := range h.originRegex {
		if re.MatchString(origin) {
			return fieldValue(origin), true
		}
	}
	return nil, false
}

// respond sets the response headers on hd, in Traefik's order.
func (h *headersMiddleware) respond(hd http.Header, hw *headersWriter) {
	if hw.secure {
		if h.sts != nil && (hw.ssl || h.forceSTS) && !h.isDevelopment {
			hd["Strict-Transport-Security"] = h.sts
		}
		for _, op := range h.static {
			hd[op.name] = op.value
		}
		if h.publicKey != nil && hw.ssl && !h.isDevelopment {
			hd["Public-Key-Pins"] = h.publicKey
		}
	}
	for _, op := range h.respOps {
		if op.value == nil {
			delete(hd, op.name)
		} else {
			hd[op.name] = op.value
		}
	}
	if !h.cors {
		return
	}
	if v, ok := h.matchOrigin(hw.origin); ok {
		hd["Access-Control-Allow-Origin"] = v
	}
	if h.allowCredentials {
		hd["Access-Control-Allow-Credentials"] = valTrue
	}
	if h.exposeHeaders != nil {
		hd["Access-Control-Expose-Headers"] = h.exposeHeaders
	}
	if h.addVary {
		addVary(hd, "Origin")
	}
}

// addVary adds token to Vary unless a Vary value already lists it. Traefik
// writes "first-value,Origin"; baton appends to the last value the same
// way, keeping any other Vary lines (Traefik's Set drops them).
func addVary(hd http.Header, token string) {
	vv := hd["Vary"]
	for _, v := range vv {
		for len(v) > 0 {
			var item string
			item, v, _ = strings.Cut(v, ",")
			if item = strings.TrimSpace(item); item == "*" || strings.EqualFold(item, token) {
				return
			}
		}
	}
	if len(vv) == 0 {
		switch token {
		case "Origin":
			hd["Vary"] = valOrigin
		case "Accept-Encoding":
			hd["Vary"] = valAcceptEncoding
		default:
			hd["Vary"] = []string{token}
		}
		return
	}
	out := make([]string, len(vv))
	copy(out, vv)
	out[len(out)-1] += "," + token
	hd["Vary"] = out
}

// headersWriter applies the response headers when the status is written.
type headersWriter struct {
	h        *headersMiddleware
	w        http.ResponseWriter
	origin   string
	secure   bool // the request passed the allowedHosts check
	ssl      bool
	wrote    bool
	hijacked bool
}

func (hw *headersWriter) Header() http.Header { return hw.w.Header() }

func (hw *headersWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 {
		hw.w.WriteHeader(code) // informational: headers not final yet
		return
	}
	if hw.wrote {
		return
	}
	hw.wrote = true
	hw.h.respond(hw.w.Header(), hw)
	hw.w.WriteHeader(code)
}

func (hw *headersWriter) Write(p []byte) (int, error) {
	if !hw.wrote {
		hw.WriteHeader(http.StatusOK)
	}
	return hw.w.Write(p)
}

// Flush sends the status first, so that the headers go with it.
func (hw *headersWriter) Flush() {
	if !hw.wrote {
		hw.WriteHeader(http.StatusOK)
	}
	if f, ok := hw.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (hw *headersWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(hw.w).Hijack()
	if err == nil {
		hw.hijacked = true
	}
	return c, brw, err
}

func (hw *headersWriter) Unwrap() http.ResponseWriter { return hw.w }

func listHas(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// sortOps orders ops by name, so that a middleware behaves the same on every
// build (options come from a map).
func sortOps(ops []headerOp) {
	for i := 1; i < len(ops); i++ {
		for j := i; j > 0 && ops[j].name < ops[j-1].name; j-- {
			ops[j], ops[j-1] = ops[j-1], ops[j]
		}
	}
}

// validFieldName: a token (RFC 9110 §5.1).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validFieldValue: no control byte but HTAB (RFC 9110 §5.5).
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
