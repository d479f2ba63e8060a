package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
)

// An unverified service does not stop `deploy --all` (it is live), but the
// run is not green: exit 6. A fake admin API stands in for baton here; the
// real deploys are in integration/compose_test.go.
func TestDeployAllGoesOnPastUnverifiedAndEndsNonZero(t *testing.T) {
	var deployed []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			admin.WriteJSON(w, http.StatusOK, admin.Status{Services: []admin.ServiceStatus{
				{Name: "shop-api", Project: "shop", Image: "api:new"},
				{Name: "shop-web", Project: "shop", Image: "web:new", DependsOn: []string{"shop-api"}},
			}})
			return
		}
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/services/"), "/deploy")
		deployed = append(deployed, name)
		verified := cutover.Verified
		if name == "shop-api" {
			verified = cutover.Unverified
		}
		json.NewEncoder(w).Encode(admin.StreamLine{Type: "result", Record: &cutover.Record{ID: "d-" + name, Service: name, Step: cutover.StepDone, Verified: verified}})
	}))
	defer api.Close()
	var out strings.Builder
	err := deployAll(context.Background(), admin.NewClient(strings.TrimPrefix(api.URL, "http://"), "t"), "", &out, false)
	var ec exitCode
	if !errors.As(err, &ec) || ec.code != exitUnverified {
		t.Fatalf("err %v, want exit %d", err, exitUnverified)
	}
	if got := strings.Join(deployed, " "); got != "shop-api shop-web" {
		t.Fatalf("deployed %q, want both in order", got)
	}
	if !strings.Contains(out.String(), "d-shop-api done but unverified") || !strings.Contains(out.String(), "d-shop-web done: - live, verified") {
		t.Fatalf("output:\n%s", out.String())
	}
}
