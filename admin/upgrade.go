package admin

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Upgrader replaces the running baton with the binary on disk (`baton
// upgrade`): the answer comes once the new process serves, or says why it
// does not (the old one then keeps serving).
type Upgrader interface {
	Upgrade(ctx context.Context) (UpgradeResult, error)
}

// UpgradeResult is the answer of POST /v1/upgrade.
type UpgradeResult struct {
	OldPID     int      `json:"old_pid"`
	OldVersion string   `json:"old_version"`
	NewPID     int      `json:"new_pid"`
	NewVersion string   `json:"new_version"`
	Binary     string   `json:"binary"`
	HandedOff  []string `json:"handed_off,omitempty"` // deploys the new process goes on with
	// Drain is the old process's bound for what it still carries.
	Drain string `json:"drain"`
}

// ErrUpgradeBusy is a second upgrade while one runs.
var ErrUpgradeBusy = errors.New("an upgrade is already running")

// HandleUpgrade adds POST /v1/upgrade. A failure is a 500 whose body says why
// (the new process's exit status and stderr); a refusal before anything was
// started (an upgrade already running, a rolling deploy) is a 409.
func (a *API) HandleUpgrade(u Upgrader, refused func(error) bool) {
	a.Handle("POST /v1/upgrade", func(w http.ResponseWriter, r *http.Request) {
		// The upgrade runs to its end even if the client leaves: a new
		// process half-adopted helps nobody.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Minute)
		defer cancel()
		res, err := u.Upgrade(ctx)
		if err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrUpgradeBusy) || refused != nil && refused(err) {
				code = http.StatusConflict
			}
			http.Error(w, err.Error(), code)
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
}
