package cutover

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// fingerprintFields are the JSON fields a /version answer names its release by,
// in order of preference.
var fingerprintFields = []string{"sha", "revision", "commit", "version"}

var hexRun = regexp.MustCompile(`\b[0-9a-fA-F]{7,64}\b`)

// ExtractFingerprint reads the release fingerprint from a response: the named
// header when one is configured, else a top-level JSON field (sha, revision,
// commit, version), else the text. For text, the expected fingerprint is looked
// for first (an HTML footer, say); failing that, the first hex run is returned.
func ExtractFingerprint(h http.Header, body []byte, header, expected string) string {
	if header != "" {
		return strings.TrimSpace(h.Get(header))
	}
	var doc map[string]any
	if json.Unmarshal(body, &doc) == nil {
		for _, f := range fingerprintFields {
			if v, ok := doc[f].(string); ok && v != "" {
				return strings.TrimSpace(v)
			}
		}
	}
	text := string(body)
	if expected != "" {
		for _, m := range hexRun.FindAllString(text, -1) {
			if SameFingerprint(m, expected) {
				return m
			}
		}
		if !isHex(expected) && strings.Contains(text, expected) {
			return expected
		}
	}
	if m := hexRun.FindString(text); m != "" {
		return m
	}
	return strings.TrimSpace(text)
}

// SameFingerprint compares fingerprints. Two git SHAs (7 or more hex digits)
// match when one is a prefix of the other, ignoring case; anything else must
// match exactly.
func SameFingerprint(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if len(a) >= 7 && len(b) >= 7 && isHex(a) && isHex(b) {
		a, b = strings.ToLower(a), strings.ToLower(b)
		return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
	}
	return a == b
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}
