package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// observedRequest is what a recording next handler saw of the request.
type observedRequest struct {
	called                    bool
	path, rawPath, requestURI string
	host                      string
	header                    http.Header
}

// observingNext records the request it gets and answers 200 "next".
func observingNext(s *observedRequest) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.path, s.rawPath, s.requestURI = r.URL.Path, r.URL.RawPath, r.RequestURI
		s.host = r.Host
		s.header = r.Header.Clone()
		_, _ = w.Write([]byte("next"))
	})
}

// buildKind builds the middleware kind with opts around next, failing the
// test on an error.
func buildKind(t testing.TB, kind string, opts map[string]string, next http.Handler) http.Handler {
	t.Helper()
	h, err := Build(Spec{Name: "m", Kind: kind, Options: opts}, Env{}, next)
	if err != nil {
		t.Fatalf("build %s %v: %v", kind, opts, err)
	}
	return h
}

// buildKindErr is the error building kind with opts gives.
func buildKindErr(kind string, opts map[string]string) error {
	_, err := Build(Spec{Name: "m", Kind: kind, Options: opts}, Env{}, http.NotFoundHandler())
	return err
}

// serveRecorded sends req through h and returns the recorded answer.
func serveRecorded(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
