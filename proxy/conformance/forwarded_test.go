package conformance

import (
	"slices"
	"strings"
	"testing"
)

// forwardedAs checks the fields baton sets about the client: X-Forwarded-For
// and X-Real-Ip are the client's address only (a client's own values are
// dropped: baton is the edge), no Forwarded the client sent survives, and
// X-Forwarded-Host and X-Forwarded-Proto are baton's.
func forwardedAs(t *testing.T, m *Message) {
	t.Helper()
	for name, want := range map[string][]string{
		"X-Forwarded-For":   {"127.0.0.1"},
		"X-Real-Ip":         {"127.0.0.1"},
		"X-Forwarded-Host":  {RouteHost},
		"X-Forwarded-Proto": {"http"},
	} {
		if got := m.Header[name]; !slices.Equal(got, want) {
			t.Errorf("upstream %s %q, want %q", name, got, want)
		}
	}
	for _, v := range m.Header["Forwarded"] {
		if strings.Contains(v, "6.6.6.6") || strings.Contains(v, "evil") {
			t.Errorf("upstream Forwarded %q: the client's value was forwarded", v)
		}
	}
}

// The client-address fields. Another engineer implements them: this test is
// its own function so that it can be enabled on its own.
func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	spoof := []string{"X-Forwarded-For: 6.6.6.6", "X-Real-Ip: 6.6.6.6", "Forwarded: for=6.6.6.6;proto=https;host=evil.test"}
	check := []msgCheck{forwardedAs}
	runVectors(t, []vector{
		{name: "none-sent", raw: h("GET /x HTTP/1.1"),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1", checks: check})},
		{name: "spoofed", raw: h("GET /x HTTP/1.1", spoof...),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1", checks: check})},
		{name: "spoofed-with-a-body", raw: h("POST /x HTTP/1.1", append(spoof, "Content-Length: 2")...) + "hi",
			status: is(200), keep: open, up: requests(want{line: "POST /x HTTP/1.1", body: "hi", checks: check})},
		{name: "spoofed-on-several-lines", raw: h("GET /x HTTP/1.1", "X-Forwarded-For: 6.6.6.6", "x-forwarded-for: 7.7.7.7, 8.8.8.8", "X-Real-IP: 6.6.6.6", "forwarded: for=6.6.6.6", "Forwarded: for=7.7.7.7"),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1", checks: check})},
		{name: "spoofed-host-and-proto", raw: h("GET /x HTTP/1.1", "X-Forwarded-Host: evil.test", "X-Forwarded-Proto: https"),
			status: is(200), keep: open, up: requests(want{line: "GET /x HTTP/1.1", checks: check})},
	})
}
