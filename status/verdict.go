package status

import (
	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
)

// The words shown for a live release. Colour is never the only signal: every
// view prints these.
const (
	VerdictVerified   = "VERIFIED"
	VerdictUnverified = "UNVERIFIED"
	VerdictWorker     = "WORKER" // nothing routes to it: there is no front door to verify through
)

// Verdict decides what is known of the live release from the service's
// deploy records, newest first. Only a done deploy whose fingerprint is the
// one live now can vouch for it: a verified deploy of another release, or a
// container swapped outside baton since, leaves the live one UNVERIFIED.
func Verdict(live string, routed bool, recs []*cutover.Record) (verdict string, v *admin.Verification) {
	if !routed {
		return VerdictWorker, nil
	}
	for _, r := range recs {
		if r.Step != cutover.StepDone {
			continue
		}
		v = &admin.Verification{Deploy: r.ID}
		switch {
		case live != "" && r.Expected != "" && r.Expected != live:
			v.Why = "the last deploy through baton (" + r.ID + ") verified " + r.Expected + "; " + live + " is live and no deploy has probed it"
			return VerdictUnverified, v
		case r.Verified == cutover.Verified:
			v.At, v.Via = r.VerifiedAt, r.VerifiedVia
			return VerdictVerified, v
		case r.Verified == cutover.NoFrontDoor:
			return VerdictWorker, v
		default:
			v.Why = verifyDetail(r)
			if v.Why == "" {
				v.Why = "deploy " + r.ID + " ended without a front-door probe"
			}
			return VerdictUnverified, v
		}
	}
	if live == "" {
		return VerdictUnverified, &admin.Verification{Why: "no release fingerprint is known for the live containers (baton.version or org.opencontainers.image.revision)"}
	}
	return VerdictUnverified, &admin.Verification{Why: "no deploy through baton has probed " + live + " through the front door yet (baton deploy, or baton verify from outside)"}
}

// verifyDetail is what the record's verifying step said: why it could not probe.
func verifyDetail(r *cutover.Record) string {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if r.Events[i].Step == cutover.StepVerifying {
			return r.Events[i].Detail
		}
	}
	return ""
}

// Summary is the last deploy's line in the projection.
func Summary(r *cutover.Record) *admin.DeploySummary {
	return &admin.DeploySummary{ID: r.ID, Status: string(r.Step), Expected: r.Expected, Cause: r.Cause, Hint: r.Hint, At: r.Started, Running: !r.Ended()}
}
