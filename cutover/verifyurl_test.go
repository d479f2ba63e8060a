package cutover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The probe from outside diagnoses with the deploy's own rules.
func TestVerifyURLDiagnosesAsTheFrontDoor(t *testing.T) {
	answer := func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "cdn":
			w.Header().Set("Cache-Status", `edge-cdn; hit; ttl=300, baton; fwd=uri-miss`)
			fmt.Fprint(w, `{"sha":"aaaaaaa"}`)
		case "age":
			w.Header().Set("Age", "120")
			fmt.Fprint(w, `{"sha":"aaaaaaa"}`)
		case "down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			fmt.Fprint(w, `{"sha":"2f1c9e0b7d4c3a2f1e0d9c8b7a6f5e4d3c2b1a09"}`)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(answer))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(answer)) // a certificate no system root signs
	defer tlsSrv.Close()
	ctx := context.Background()
	got, err := VerifyURL(ctx, srv.URL+"/version", "2f1c9e0", "", 3, 5*time.Second)
	if err != nil || len(got) != 3 {
		t.Fatalf("the live release: %v %v", got, err)
	}
	for _, c := range []struct{ url, cause, hint string }{
		{srv.URL + "/version?case=cdn", VerifyCacheHit, "edge-cdn"},
		{srv.URL + "/version?case=age", VerifyCacheHit, "Age: 120"},
		{srv.URL + "/version?case=down", VerifyUpstream, "check its logs"},
		{tlsSrv.URL + "/version", VerifyTLS, "certificate"},
	} {
		_, err := VerifyURL(ctx, c.url, "2f1c9e0", "", 3, 5*time.Second)
		var verr *VerifyError
		if !errors.As(err, &verr) || verr.Cause != c.cause || !strings.Contains(verr.Hint(), c.hint) {
			t.Errorf("%s: %v (hint %q), want cause %s and a hint naming %q", c.url, err, hintOf(verr), c.cause, c.hint)
		}
	}
}

func hintOf(e *VerifyError) string {
	if e == nil {
		return ""
	}
	return e.Hint()
}
