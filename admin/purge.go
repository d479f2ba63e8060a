package admin

import (
	"encoding/json"
	"net/http"
)

// Purger drops cached responses (proxy/cache.Cache).
type Purger interface {
	Purge(service, pathPrefix string) (removed int)
}

// PurgeRequest is the body of POST /v1/cache/purge.
type PurgeRequest struct {
	Service string `json:"service"`
	Path    string `json:"path,omitempty"`
}

// HandlePurge adds POST /v1/cache/purge.
func (a *API) HandlePurge(p Purger) {
	a.Handle("POST /v1/cache/purge", func(w http.ResponseWriter, r *http.Request) {
		var req PurgeRequest
		if json.NewDecoder(r.Body).Decode(&req) != nil || req.Service == "" {
			http.Error(w, `body must be {"service": "...", "path": "/optional/prefix"}`, http.StatusBadRequest)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]int{"removed": p.Purge(req.Service, req.Path)})
	})
}
