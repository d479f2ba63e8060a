package upstreamconn

import (
	"testing"
)

// The retry rule: a second attempt only when the first cannot have been
// processed; never after a timeout or cancel, never with a body.
func TestRetryRule(t *testing.T) {
	cases := []struct {
		name                 string
		f                    attemptFailure
		replayable, withBody bool
		want                 bool
	}{
		{"nothing written, POST without body", attemptFailure{reused: true}, false, false, true},
		{"nothing written, with body", attemptFailure{reused: true}, false, true, false},
		{"GET on reused conn closed before answer", attemptFailure{reused: true, wrote: true, closedEarly: true}, true, false, true},
		{"POST on reused conn closed before answer", attemptFailure{reused: true, wrote: true, closedEarly: true}, false, false, false},
		{"GET on fresh conn closed before answer", attemptFailure{wrote: true, closedEarly: true}, true, false, false},
		{"GET with body on reused conn", attemptFailure{reused: true, wrote: true, closedEarly: true}, true, true, false},
		{"GET timed out on reused conn", attemptFailure{reused: true, wrote: true, timeout: true}, true, false, false},
		{"GET cancelled", attemptFailure{reused: true, wrote: true, closedEarly: true, cancelled: true}, true, false, false},
		{"GET answered in part", attemptFailure{reused: true, wrote: true}, true, false, false},
	}
	for _, tc := range cases {
		if got := mayRetry(&tc.f, tc.replayable, tc.withBody); got != tc.want {
			t.Errorf("%s: mayRetry = %v, want %v", tc.name, got, tc.want)
		}
	}
	for method, want := range map[string]bool{"GET": true, "HEAD": true, "OPTIONS": true, "TRACE": true, "PUT": false, "DELETE": false, "POST": false, "PATCH": false} {
		if got := Replayable(method, nil); got != want {
			t.Errorf("Replayable(%s) = %v, want %v", method, got, want)
		}
	}
	if !Replayable("POST", map[string][]string{"Idempotency-Key": {"k"}}) {
		t.Error("a POST with Idempotency-Key is replayable (net/http's rule)")
	}
}
