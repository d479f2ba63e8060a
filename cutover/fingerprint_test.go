package cutover

import (
	"net/http"
	"strings"
	"testing"
)

func TestExtractFingerprint(t *testing.T) {
	cases := []struct {
		name, header, expected, body, want string
		h                                  http.Header
	}{
		{name: "json sha", body: `{"sha":"2f1c9e0","built_at":"x"}`, want: "2f1c9e0"},
		{name: "json revision", body: `{"revision":"abcdef1234"}`, want: "abcdef1234"},
		{name: "json commit before version", body: `{"version":"1.2.3","commit":"deadbee"}`, want: "deadbee"},
		{name: "json version only", body: `{"version":"1.2.3-abc1234"}`, want: "1.2.3-abc1234"},
		{name: "header wins", header: "X-Release", h: http.Header{"X-Release": {" 2f1c9e0 "}}, body: `{"sha":"other"}`, want: "2f1c9e0"},
		{name: "text footer finds expected", expected: "2f1c9e0", body: `<footer>build 0123abc · release 2f1c9e0aa</footer>`, want: "2f1c9e0aa"},
		{name: "text footer old release", expected: "2f1c9e0", body: `<footer>release 0123abcd</footer>`, want: "0123abcd"},
		{name: "plain text", body: "9f8e7d6\n", want: "9f8e7d6"},
	}
	for _, c := range cases {
		if got := ExtractFingerprint(c.h, []byte(c.body), c.header, c.expected); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSameFingerprint(t *testing.T) {
	long := "2f1c9e0b7d4c3a2f1e0d9c8b7a6f5e4d3c2b1a09"
	cases := []struct {
		a, b string
		want bool
	}{
		{"2f1c9e0", long, true},
		{long, "2F1C9E0", true},
		{"2f1c9e0", "2f1c9e1", false},
		{"2f1c9e", long, false}, // 6 characters is not a SHA: exact match needed
		{"v1.2.3", "v1.2.3", true},
		{"v1.2", "v1.2.3", false},
		{"", "", false},
	}
	for _, c := range cases {
		if got := SameFingerprint(c.a, c.b); got != c.want {
			t.Errorf("SameFingerprint(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func FuzzExtractFingerprint(f *testing.F) {
	f.Add([]byte(`{"sha":"2f1c9e0"}`), "", "2f1c9e0")
	f.Add([]byte(`<p>release 2f1c9e0</p>`), "", "2f1c9e0")
	f.Add([]byte(`{"version": 12}`), "X-Release", "")
	f.Fuzz(func(t *testing.T, body []byte, header, expected string) {
		got := ExtractFingerprint(http.Header{"X-Release": {expected}}, body, header, expected)
		if header == "" && expected != "" && len(expected) >= 7 && len(expected) <= 64 && isHex(expected) && strings.Contains(string(body), " "+expected+" ") && !strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
			if !SameFingerprint(got, expected) {
				t.Fatalf("expected %q present in text body %q, extracted %q", expected, body, got)
			}
		}
	})
}
