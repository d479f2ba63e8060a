package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/batonproxy/baton/cutover"
)

// Deployer runs deploys and rollbacks (cutover.Deployer).
type Deployer interface {
	Deploy(ctx context.Context, req cutover.Request, emit func(cutover.Event, *cutover.Record)) (*cutover.Record, error)
	Rollback(ctx context.Context, service string, emit func(cutover.Event, *cutover.Record)) (*cutover.Record, error)
}

// StreamLine is one NDJSON line of a deploy stream: timeline events while it
// runs, then one result line.
type StreamLine struct {
	Type   string          `json:"type"` // "event" or "result"
	Event  *cutover.Event  `json:"event,omitempty"`
	Record *cutover.Record `json:"record,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
	Hint   string          `json:"hint,omitempty"`
}

// DeployRequest is the body of POST /v1/services/{name}/deploy.
type DeployRequest struct {
	Image  string `json:"image"`
	Expect string `json:"expect,omitempty"`
}

// HandleDeploys adds the deploy and rollback endpoints. A deploy runs to its
// end even if the client disconnects: a half-run deploy helps nobody, and the
// record says how it ended.
func (a *API) HandleDeploys(d Deployer, store *cutover.Store) {
	a.Handle("POST /v1/services/{name}/deploy", func(w http.ResponseWriter, r *http.Request) {
		name, ok := ServiceName(r)
		var req DeployRequest
		if !ok || json.NewDecoder(r.Body).Decode(&req) != nil || req.Image == "" {
			http.Error(w, `body must be {"image": "...", "expect": "..."}`, http.StatusBadRequest)
			return
		}
		a.stream(w, r, func(ctx context.Context, emit func(cutover.Event, *cutover.Record)) (*cutover.Record, error) {
			return d.Deploy(ctx, cutover.Request{Service: name, Image: req.Image, Expect: req.Expect}, emit)
		})
	})
	a.Handle("POST /v1/services/{name}/rollback", func(w http.ResponseWriter, r *http.Request) {
		name, ok := ServiceName(r)
		if !ok {
			http.Error(w, "bad service name", http.StatusBadRequest)
			return
		}
		a.stream(w, r, func(ctx context.Context, emit func(cutover.Event, *cutover.Record)) (*cutover.Record, error) {
			return d.Rollback(ctx, name, emit)
		})
	})
	a.Handle("GET /v1/deploys/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		recs, err := store.List("")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, rec := range recs {
			if rec.ID == id {
				WriteJSON(w, http.StatusOK, rec)
				return
			}
		}
		http.Error(w, "no deploy "+id, http.StatusNotFound)
	})
	a.Handle("GET /v1/services/{name}/deploys", func(w http.ResponseWriter, r *http.Request) {
		name, _ := ServiceName(r)
		recs, err := store.List(name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, rec := range recs {
			rec.OldSnapshot = nil // large and only for rollback
		}
		WriteJSON(w, http.StatusOK, recs)
	})
}

func (a *API) stream(w http.ResponseWriter, r *http.Request, run func(context.Context, func(cutover.Event, *cutover.Record)) (*cutover.Record, error)) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	var mu sync.Mutex
	gone := false
	write := func(l StreamLine) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return
		}
		if enc.Encode(l) != nil || rc.Flush() != nil {
			gone = true // the client left; the deploy goes on
		}
	}
	emit := func(ev cutover.Event, _ *cutover.Record) { write(StreamLine{Type: "event", Event: &ev}) }
	rec, err := run(context.WithoutCancel(r.Context()), emit)
	res := StreamLine{Type: "result", Record: rec}
	if rec != nil {
		rec.OldSnapshot = nil
	}
	if err != nil {
		res.Error = err.Error()
		var de *cutover.DeployError
		if errors.As(err, &de) {
			res.Cause, res.Hint = de.Cause, de.Hint
		} else if errors.Is(err, cutover.ErrHandedOff) {
			// No verdict: the next baton process goes on with the deploy,
			// and GET /v1/deploys/{id} follows it there.
			res.Cause = cutover.CauseHandedOff
		} else if errors.Is(err, cutover.ErrStateUnwritable) {
			// Refused before anything changed: the deploy could not be recorded.
			res.Cause = cutover.CauseStateWrite
			res.Hint = "free space in baton's state dir (state.dir) or make it writable, then deploy again; serving goes on"
		} else {
			res.Cause = cutover.CauseCouldNotStart
		}
	}
	write(res)
}
