package upstream

import "testing"

// The verify path is the label's, else GET /version (design), whether or not
// the spec went through DefaultSpec.
func TestVerifyPathDefaultsToVersion(t *testing.T) {
	for _, tc := range []struct {
		spec VerifySpec
		want string
	}{
		{VerifySpec{}, "/version"},
		{DefaultSpec().Verify, "/version"},
		{VerifySpec{Path: "/healthz/release"}, "/healthz/release"},
	} {
		if got := tc.spec.URLPath(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.spec, got, tc.want)
		}
	}
}
