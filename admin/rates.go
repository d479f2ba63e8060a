package admin

import (
	"net/http"
	"time"

	"github.com/batonproxy/baton/proxy"
)

// RateSource is the proxy's per-service rates (proxy.Rates).
type RateSource interface {
	Summary(step time.Duration) proxy.RateSummary
}

// HandleRates adds GET /v1/metrics/summary[?step=10s]: request rate, 5xx
// rate and p99 per service over the last minutes, from baton's own counters.
func (a *API) HandleRates(src RateSource) {
	a.Handle("GET /v1/metrics/summary", func(w http.ResponseWriter, r *http.Request) {
		step := 10 * time.Second
		if v := r.URL.Query().Get("step"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second || d > proxy.RateWindow {
				http.Error(w, "step: want a duration from 1s to "+proxy.RateWindow.String(), http.StatusBadRequest)
				return
			}
			step = d
		}
		WriteJSON(w, http.StatusOK, src.Summary(step))
	})
}
