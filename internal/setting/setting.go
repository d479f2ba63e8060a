package setting

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// oneYear is what browsers and the HSTS preload list expect of "on".
const oneYear = 365 * 24 * time.Hour

// ParseHSTS reads an HSTS setting, in a label (baton.tls.hsts) or a route's
// hsts key: true (one year), false (off) or a max-age duration of at least 1s.
func ParseHSTS(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if b, err := strconv.ParseBool(v); err == nil {
		if b {
			return oneYear, nil
		}
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("want true, false or a max-age duration such as 8760h")
	}
	return d, nil
}

// CheckHost validates a route host: a DNS name, "*.name" or "*".
func CheckHost(h string) error {
	if h == "*" {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(name) > 253 || strings.Contains(name, "*") {
		return fmt.Errorf("invalid host (a wildcard is only allowed as a leading \"*.\" or a lone \"*\")")
	}
	if net.ParseIP(name) != nil {
		return nil
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("invalid host name")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("invalid character %q in host name", c)
			}
		}
	}
	return nil
}
