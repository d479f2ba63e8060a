package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"
)

//go:embed page.html
var pageHTML []byte

// CookieName is the session cookie.
const CookieName = "baton_session"

// CSRFHeader carries the CSRF token on every POST.
const CSRFHeader = "X-Baton-CSRF"

// Options configure the dashboard.
type Options struct {
	API http.Handler // the admin API, called in process
	// Token is admin.token. Without a session made with it, a dashboard off
	// loopback shows only the token form; on loopback it is not asked.
	Token    string
	Loopback bool // the listener's address is loopback
	Actions  bool // admin.ui_actions: deploy, rollback and cache purge buttons
	Logger   *zap.Logger
	// SessionTTL is how long a session lasts; 0 = 12 hours.
	SessionTTL time.Duration
}

type server struct {
	o        Options
	sessions *sessions
	logger   *zap.Logger
	page     asset
	login    asset
}

// New returns the dashboard's handler.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 12 * time.Hour
	}
	s := &server{o: o, sessions: newSessions(o.Token, o.SessionTTL), logger: o.Logger.Named("dashboard"),
		page: newAsset(pageHTML), login: newAsset([]byte(loginHTML))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("POST /login", s.serveLogin)
	mux.HandleFunc("GET /ui/session", s.serveSession)
	mux.Handle("GET /v1/", s.authed(o.API))
	for _, p := range []string{"POST /v1/services/{name}/deploy", "POST /v1/services/{name}/rollback", "POST /v1/cache/purge"} {
		mux.Handle(p, s.action(o.API))
	}
	return s.guard(mux)
}

// guard refuses a loopback dashboard reached under a name that is not
// loopback: a DNS-rebinding page would otherwise be same-origin with it.
func (s *server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// Not no-referrer: with it a browser sends "Origin: null" on a form
		// POST (Fetch, "serializing a request origin"), and the token form
		// could not prove it came from this page.
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("X-Frame-Options", "DENY")
		if s.o.Loopback && !loopbackHost(r.Host) {
			http.Error(w, "dashboard: Host "+r.Host+" is not a loopback address; a loopback dashboard answers only to 127.0.0.1, [::1] or localhost (DNS rebinding guard)", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// session returns the request's valid session cookie value, or "".
func (s *server) session(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil || !s.sessions.valid(c.Value) {
		return ""
	}
	return c.Value
}

// allowed: on loopback every local browser may look; elsewhere only a session.
func (s *server) allowed(r *http.Request) bool { return s.o.Loopback || s.session(r) != "" }

func (s *server) setSession(w http.ResponseWriter, r *http.Request) string {
	v := s.sessions.issue()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(s.o.SessionTTL / time.Second)})
	return v
}

func (s *server) servePage(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(r) {
		s.login.serve(w, r, http.StatusUnauthorized)
		return
	}
	s.page.serve(w, r, http.StatusOK)
}

// serveLogin trades the admin token for a session cookie, once.
func (s *server) serveLogin(w http.ResponseWriter, r *http.Request) {
	if s.o.Token == "" {
		http.Error(w, "dashboard: no admin.token is set; this loopback dashboard asks for none", http.StatusNotFound)
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "dashboard: the token form must be sent from this page (Origin "+r.Header.Get("Origin")+")", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := r.PostFormValue("token")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.o.Token)) != 1 {
		s.logger.Warn("dashboard: wrong admin token", zap.String("remote", r.RemoteAddr))
		s.login.serve(w, r, http.StatusUnauthorized)
		return
	}
	s.setSession(w, r)
	s.logger.Info("dashboard: session opened", zap.String("remote", r.RemoteAddr))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// SessionInfo is the answer of GET /ui/session.
type SessionInfo struct {
	CSRF    string `json:"csrf"`
	Actions bool   `json:"actions"`
}

// serveSession gives the page its CSRF token, opening a session on loopback
// when it has none (or one from before a restart).
func (s *server) serveSession(w http.ResponseWriter, r *http.Request) {
	v := s.session(r)
	if v == "" {
		if !s.o.Loopback {
			http.Error(w, "dashboard: no session; enter the admin token on the page", http.StatusUnauthorized)
			return
		}
		v = s.setSession(w, r)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"csrf":%q,"actions":%t}`, s.sessions.csrf(v), s.o.Actions)
}

func (s *server) authed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allowed(r) {
			http.Error(w, "dashboard: no session; enter the admin token on the page", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// action lets a POST through only with actions on, a session, its CSRF
// token and a same-origin Origin (OWASP CSRF cheat sheet: token plus origin
// check; the cookie is SameSite=Strict on top).
func (s *server) action(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.session(r)
		switch {
		case !s.o.Actions:
			http.Error(w, "dashboard: read-only (admin.ui_actions is off)", http.StatusForbidden)
		case v == "":
			http.Error(w, "dashboard: no session", http.StatusUnauthorized)
		case !sameOrigin(r):
			http.Error(w, "dashboard: cross-origin request refused (Origin "+r.Header.Get("Origin")+")", http.StatusForbidden)
		case !s.sessions.csrfOK(v, r.Header.Get(CSRFHeader)):
			http.Error(w, "dashboard: missing or wrong CSRF token ("+CSRFHeader+")", http.StatusForbidden)
		default:
			s.logger.Info("dashboard action", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
			h.ServeHTTP(w, r)
		}
	})
}

// sameOrigin: the Origin a browser sends with a POST (RFC 6454) must be
// this very host; a missing one is refused (every browser sends it on POST).
func sameOrigin(r *http.Request) bool {
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return r.Header.Get("Origin") == scheme+r.Host
}

// asset is an embedded page, gzipped once, with its CSP naming the hashes
// of its own inline script and style: nothing else runs on it.
type asset struct {
	raw, gz []byte
	etag    string
	csp     string
}

var inlineBlock = regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`)

func newAsset(b []byte) asset {
	var scripts, styles []string
	for _, m := range inlineBlock.FindAllSubmatch(b, -1) {
		sum := sha256.Sum256(m[2])
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if string(m[1]) == "script" {
			scripts = append(scripts, h)
		} else {
			styles = append(styles, h)
		}
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	sum := sha256.Sum256(b)
	return asset{raw: b, gz: gz.Bytes(), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
		csp: "default-src 'none'; script-src " + orNone(scripts) + "; style-src " + orNone(styles) +
			"; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"}
}

func orNone(hashes []string) string {
	if len(hashes) == 0 {
		return "'none'"
	}
	return strings.Join(hashes, " ")
}

func (a asset) serve(w http.ResponseWriter, r *http.Request, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", a.csp)
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	if status == http.StatusOK {
		h.Set("ETag", a.etag)
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	body := a.raw
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

var loginHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>baton: admin token</title><link rel="icon" href="data:,">
<style>body{font:16px system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0}</style></head>
<body><h1>baton</h1>
<p id="refused"><strong>Refused:</strong> this dashboard is not on a loopback address, so it needs the admin token (<code>admin.token</code>) once. The browser then keeps a session cookie.</p>
<form method="post" action="/login"><label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Open the dashboard</button></form></body></html>
`
