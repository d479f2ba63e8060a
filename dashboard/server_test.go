package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fakeAPI records what reached the admin API.
type fakeAPI struct{ calls []string }

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	io.WriteString(w, `{"services":[]}`)
}

func do(t *testing.T, h http.Handler, method, target, host string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = host
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func sessionOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie set: %v", CookieName, w.Header())
	return nil
}

func csrfOf(t *testing.T, h http.Handler, host string, cookie *http.Cookie) string {
	t.Helper()
	w := do(t, h, "GET", "/ui/session", host, map[string]string{"Cookie": cookie.String()}, "")
	var si SessionInfo
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &si) != nil || si.CSRF == "" {
		t.Fatalf("session: %d %s", w.Code, w.Body)
	}
	return si.CSRF
}

func TestLoopbackPageAndDNSRebindingGuard(t *testing.T) {
	h := New(Options{API: &fakeAPI{}, Loopback: true})
	w := do(t, h, "GET", "/", "127.0.0.1:9181", nil, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<title>baton</title>") {
		t.Fatalf("page: %d", w.Code)
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	for _, host := range []string{"localhost:9181", "[::1]:9181"} {
		if w := do(t, h, "GET", "/v1/services", host, nil, ""); w.Code != 200 {
			t.Errorf("Host %s: %d", host, w.Code)
		}
	}
	// A rebinding attacker's name resolving to 127.0.0.1.
	if w := do(t, h, "GET", "/v1/services", "evil.example:9181", nil, ""); w.Code != http.StatusMisdirectedRequest {
		t.Fatalf("Host evil.example: %d", w.Code)
	}
}

func TestGzipAndETag(t *testing.T) {
	h := New(Options{API: &fakeAPI{}, Loopback: true})
	w := do(t, h, "GET", "/", "127.0.0.1", map[string]string{"Accept-Encoding": "gzip"}, "")
	if w.Header().Get("Content-Encoding") != "gzip" || w.Body.Len() >= len(pageHTML) {
		t.Fatalf("gzip: %q, %d bytes of %d", w.Header().Get("Content-Encoding"), w.Body.Len(), len(pageHTML))
	}
	if w := do(t, h, "GET", "/", "127.0.0.1", map[string]string{"If-None-Match": w.Header().Get("ETag")}, ""); w.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d", w.Code)
	}
}

func TestActionsNeedCSRFAndOrigin(t *testing.T) {
	api := &fakeAPI{}
	h := New(Options{API: api, Loopback: true, Actions: true})
	host := "127.0.0.1:9181"
	w := do(t, h, "GET", "/ui/session", host, nil, "")
	cookie := sessionOf(t, w)
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v: want HttpOnly and SameSite=Strict", cookie)
	}
	csrf := csrfOf(t, h, host, cookie)
	other := sessionOf(t, do(t, h, "GET", "/ui/session", host, nil, ""))
	origin := "http://" + host
	cases := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no session", map[string]string{"Origin": origin, CSRFHeader: csrf}, 401},
		{"no CSRF token", map[string]string{"Cookie": cookie.String(), "Origin": origin}, 403},
		{"a wrong CSRF token", map[string]string{"Cookie": cookie.String(), "Origin": origin, CSRFHeader: csrf + "0"}, 403},
		{"another session's CSRF token", map[string]string{"Cookie": other.String(), "Origin": origin, CSRFHeader: csrf}, 403},
		{"no Origin", map[string]string{"Cookie": cookie.String(), CSRFHeader: csrf}, 403},
		{"another Origin", map[string]string{"Cookie": cookie.String(), "Origin": "http://evil.example", CSRFHeader: csrf}, 403},
		{"all good", map[string]string{"Cookie": cookie.String(), "Origin": origin, CSRFHeader: csrf}, 200},
	}
	for _, c := range cases {
		api.calls = nil
		w := do(t, h, "POST", "/v1/services/web/rollback", host, c.hdr, "")
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d: %s", c.name, w.Code, c.want, w.Body)
		}
		if reached := len(api.calls) > 0; reached != (c.want == 200) {
			t.Errorf("%s: reached the API: %v", c.name, api.calls)
		}
	}
	// Only the three actions exist; other admin POSTs are not reachable.
	if w := do(t, h, "POST", "/v1/anything", host, cases[len(cases)-1].hdr, ""); w.Code != http.StatusMethodNotAllowed && w.Code != http.StatusNotFound {
		t.Fatalf("POST /v1/anything: %d", w.Code)
	}
}

func TestReadOnlyRefusesEveryAction(t *testing.T) {
	api := &fakeAPI{}
	h := New(Options{API: api, Loopback: true})
	host := "127.0.0.1:9181"
	cookie := sessionOf(t, do(t, h, "GET", "/ui/session", host, nil, ""))
	hdr := map[string]string{"Cookie": cookie.String(), "Origin": "http://" + host, CSRFHeader: csrfOf(t, h, host, cookie)}
	for _, p := range []string{"/v1/services/web/deploy", "/v1/services/web/rollback", "/v1/cache/purge"} {
		if w := do(t, h, "POST", p, host, hdr, `{"image":"x","service":"web"}`); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "ui_actions") {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	if len(api.calls) != 0 {
		t.Fatalf("a read-only dashboard reached %v", api.calls)
	}
}

func TestOffLoopbackNeedsTheTokenOnce(t *testing.T) {
	api := &fakeAPI{}
	opts := Options{API: api, Token: "s3cret"}
	h := New(opts)
	host := "172.18.0.1:9181"
	w := do(t, h, "GET", "/", host, nil, "")
	if w.Code != 401 || !strings.Contains(w.Body.String(), "Refused") || strings.Contains(w.Body.String(), "/v1/events") {
		t.Fatalf("page without a session: %d", w.Code)
	}
	for _, p := range []string{"/v1/services", "/v1/events", "/ui/session"} {
		if w := do(t, h, "GET", p, host, nil, ""); w.Code != 401 {
			t.Errorf("%s without a session: %d", p, w.Code)
		}
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://" + host}
	if w := do(t, h, "POST", "/login", host, form, url.Values{"token": {"wrong"}}.Encode()); w.Code != 401 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("wrong token: %d %v", w.Code, w.Result().Cookies())
	}
	form["Origin"] = "http://evil.example"
	if w := do(t, h, "POST", "/login", host, form, url.Values{"token": {"s3cret"}}.Encode()); w.Code != 403 {
		t.Fatalf("cross-origin login: %d", w.Code)
	}
	form["Origin"] = "http://" + host
	w = do(t, h, "POST", "/login", host, form, url.Values{"token": {"s3cret"}}.Encode())
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	cookie := sessionOf(t, w)
	if strings.Contains(cookie.Value, "s3cret") {
		t.Fatal("the cookie carries the token itself")
	}
	if w := do(t, h, "GET", "/v1/services", host, map[string]string{"Cookie": cookie.String()}, ""); w.Code != 200 {
		t.Fatalf("with the session: %d", w.Code)
	}
	// A restarted baton (a new handler, the same token) keeps the session;
	// another token ends it.
	if w := do(t, New(opts), "GET", "/", host, map[string]string{"Cookie": cookie.String()}, ""); w.Code != 200 {
		t.Fatalf("after a restart: %d", w.Code)
	}
	if w := do(t, New(Options{API: api, Token: "other"}), "GET", "/", host, map[string]string{"Cookie": cookie.String()}, ""); w.Code != 401 {
		t.Fatalf("after the token changed: %d", w.Code)
	}
}

func TestSessionsExpire(t *testing.T) {
	s := newSessions("tok", 3600e9)
	v := s.issue()
	if !s.valid(v) {
		t.Fatal("fresh session refused")
	}
	later := s.now().Add(2 * 3600e9)
	s.now = func() time.Time { return later }
	if s.valid(v) {
		t.Fatal("expired session accepted")
	}
	if s.valid("a.b") || s.valid("x.99999999999.y") {
		t.Fatal("forged session accepted")
	}
}
