package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// ECHO=1: every path not served otherwise answers 200 with what the app
// received: release, method, the request target, and the headers a proxy's
// middlewares add or strip (so a test sees what baton sent upstream).
//
// AUTH_SESSION=<value>: GET /auth is a forward-auth endpoint in the manner
// of Authelia: a request whose Cookie has session=<value> gets 200 with
// Remote-User: alice and Remote-Groups: admins; any other gets 302 to
// https://auth.example.com/?rd=<the original URL from X-Forwarded-*>.

func (a *webApp) echoRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/", a.echoAny)
}

func (a *webApp) echoAny(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		a.index(rw, r)
		return
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(rw, "release=%s method=%s target=%s\n", a.release, r.Method, r.RequestURI)
	for _, k := range keys {
		fmt.Fprintf(rw, "%s: %s\n", k, strings.Join(r.Header[k], ", "))
	}
}

func authRoutes(mux *http.ServeMux, session string) {
	mux.HandleFunc("GET /auth", func(rw http.ResponseWriter, r *http.Request) {
		for _, c := range r.Cookies() {
			if c.Name == "session" && c.Value == session {
				rw.Header().Set("Remote-User", "alice")
				rw.Header().Set("Remote-Groups", "admins")
				fmt.Fprintln(rw, "ok")
				return
			}
		}
		orig := r.Header.Get("X-Forwarded-Proto") + "://" + r.Header.Get("X-Forwarded-Host") + r.Header.Get("X-Forwarded-Uri")
		http.Redirect(rw, r, "https://auth.example.com/?rd="+url.QueryEscape(orig), http.StatusFound)
	})
}
