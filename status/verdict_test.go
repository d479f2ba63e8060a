package status

import (
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
)

func done(id, expected, verified string, detail string) *cutover.Record {
	r := &cutover.Record{ID: id, Expected: expected, Step: cutover.StepDone, Verified: verified,
		Events: []cutover.Event{{Step: cutover.StepVerifying, Detail: detail}, {Step: cutover.StepDone}}}
	if verified == cutover.Verified {
		r.VerifiedVia, r.VerifiedAt = "https://web.test/version (SNI web.test)", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	return r
}

func TestVerdict(t *testing.T) {
	reverted := &cutover.Record{ID: "d3", Expected: "ccc", Step: cutover.StepReverted, Cause: "served_from_cache"}
	cases := []struct {
		name   string
		live   string
		routed bool
		recs   []*cutover.Record
		want   string
		why    string // a part of Verification.Why
		via    string
		deploy string
	}{
		{"verified through the front door", "bbb", true, []*cutover.Record{done("d2", "bbb", cutover.Verified, "")}, VerdictVerified, "", "SNI web.test", "d2"},
		// A revert leaves the previous release live; the verified deploy before it still vouches for it.
		{"a reverted deploy after a verified one", "bbb", true, []*cutover.Record{reverted, done("d2", "bbb", cutover.Verified, "")}, VerdictVerified, "", "web.test", "d2"},
		{"done without a fingerprint", "", true, []*cutover.Record{done("d2", "", cutover.Unverified, "no release fingerprint (--expect ...): deploy is unverified")}, VerdictUnverified, "no release fingerprint", "", "d2"},
		// The container was swapped outside baton after the verified deploy.
		{"another release live than the one verified", "ddd", true, []*cutover.Record{done("d2", "bbb", cutover.Verified, "")}, VerdictUnverified, "ddd is live", "", "d2"},
		{"never deployed through baton", "aaa", true, nil, VerdictUnverified, "no deploy through baton has probed aaa", "", ""},
		{"no deploy and no fingerprint", "", true, nil, VerdictUnverified, "no release fingerprint", "", ""},
		{"only a reverted deploy", "aaa", true, []*cutover.Record{reverted}, VerdictUnverified, "no deploy through baton", "", ""},
		{"a worker", "aaa", false, []*cutover.Record{done("d2", "aaa", cutover.NoFrontDoor, "")}, VerdictWorker, "", "", ""},
	}
	for _, c := range cases {
		got, v := Verdict(c.live, c.routed, c.recs)
		if got != c.want {
			t.Errorf("%s: verdict %s, want %s", c.name, got, c.want)
			continue
		}
		if c.want == VerdictWorker {
			continue
		}
		if v == nil {
			t.Errorf("%s: no verification given", c.name)
			continue
		}
		if c.why != "" && !strings.Contains(v.Why, c.why) {
			t.Errorf("%s: why %q, want it to say %q", c.name, v.Why, c.why)
		}
		if c.want == VerdictVerified && (v.Why != "" || v.At.IsZero() || !strings.Contains(v.Via, c.via)) {
			t.Errorf("%s: verified must say when and through what, and no why: %+v", c.name, v)
		}
		if c.want == VerdictUnverified && v.Why == "" {
			t.Errorf("%s: UNVERIFIED without a reason", c.name)
		}
		if v.Deploy != c.deploy {
			t.Errorf("%s: deploy %q, want %q", c.name, v.Deploy, c.deploy)
		}
	}
}
