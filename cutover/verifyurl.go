package cutover

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/batonproxy/baton/upstream"
)

// VerifyURL is the verify probe from outside (`baton verify --url`): through
// a CDN or a second proxy, the way users reach the app. Each of count GETs
// goes on a new connection (no pooled one pins a backend), with no cookies
// and no Cache-Control, and must carry expected (read from header, else the
// JSON body); the first that does not is diagnosed by the front door's own
// rules, with what an outside client can see: a TLS failure, an upstream
// error, a cache that answered (Cache-Status, RFC 9211, or Age), a
// mismatch. It returns the fingerprint of each answer that matched.
func VerifyURL(ctx context.Context, rawURL, expected, header string, count int, timeout time.Duration) ([]string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("verify: %q is not an absolute URL", rawURL)
	}
	client := &http.Client{
		Timeout:       timeout,
		Transport:     &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{ServerName: u.Hostname()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	spec := upstream.Spec{Hosts: []string{u.Hostname()}, Verify: upstream.VerifySpec{Path: u.RequestURI(), Header: header}}
	var got []string
	fd := &FrontDoor{}
	for i := 0; i < count; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return got, err
		}
		a := get(client, req, header, expected)
		if a.err == nil && a.status/100 == 2 && SameFingerprint(a.fingerprint, expected) {
			got = append(got, a.fingerprint)
			continue
		}
		e := fd.diagnose(ctx, a, u.Hostname(), spec, expected, nil)
		e.Detail = fmt.Sprintf("probe %d of %d: %s", i+1, count, e.Detail)
		return got, e
	}
	return got, nil
}
