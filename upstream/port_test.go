package upstream

import (
	"errors"
	"strings"
	"testing"
)

func TestPortForLabelElseTheOnlyExposedPort(t *testing.T) {
	cases := []struct {
		name    string
		spec    Spec
		exposed []int
		want    int
		wantErr string // part of the reason; "" = no error
	}{
		{"label wins", Spec{Port: 9000}, []int{80, 443}, 9000, ""},
		{"one exposed", Spec{}, []int{8080}, 8080, ""},
		{"one exposed twice (EXPOSE and Compose expose)", Spec{}, []int{8080, 8080}, 8080, ""},
		{"none", Spec{}, nil, 0, "exposes no port"},
		{"several", Spec{}, []int{443, 80}, 0, "several ports"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PortFor("web-1", tc.spec, tc.exposed)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("PortFor = %d, %v; want %d", got, err, tc.want)
				}
				return
			}
			var le *LabelError
			if !errors.As(err, &le) || le.Label != "baton.port" || le.Container != "web-1" || !strings.Contains(le.Reason, tc.wantErr) {
				t.Fatalf("PortFor = %d, %v; want a baton.port error saying %q", got, err, tc.wantErr)
			}
		})
	}
	if _, err := PortFor("web-1", Spec{}, []int{443, 80}); !strings.Contains(err.Error(), "[80 443]") {
		t.Errorf("the error lists the ports, sorted: %v", err)
	}
}

func TestAddressProblemForgivesOnlyAWorkerWithoutPort(t *testing.T) {
	_, noPort := PortFor("c", Spec{}, nil)
	other := errors.New(`container "c": no network to reach it on`)
	regexpRouted := Spec{Routers: []Router{{Name: "r", Rule: "HostRegexp(`^.+\\.example\\.com$`)", Complex: true}}}
	cases := []struct {
		name string
		spec Spec
		err  error
		want error
	}{
		{"no error", Spec{Hosts: []string{"a.test"}}, nil, nil},
		{"worker without port", Spec{}, noPort, nil},
		{"routed by host without port", Spec{Hosts: []string{"a.test"}}, noPort, noPort},
		// Regression: a container routed only by a rule that names no host
		// was taken for a worker when it had no port, and left unrouted
		// without any problem shown.
		{"routed by HostRegexp without port", regexpRouted, noPort, noPort},
		{"worker without network", Spec{}, other, other},
	}
	for _, tc := range cases {
		if got := AddressProblem(tc.spec, tc.err); got != tc.want {
			t.Errorf("%s: AddressProblem = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMatchesConstraint(t *testing.T) {
	labels := map[string]string{"team": "shop"}
	for _, tc := range []struct {
		constraint string
		want       bool
	}{{"", true}, {"team=shop", true}, {"team=blog", false}, {"env=prod", false}} {
		if got := MatchesConstraint(tc.constraint, labels); got != tc.want {
			t.Errorf("MatchesConstraint(%q) = %v, want %v", tc.constraint, got, tc.want)
		}
	}
}
