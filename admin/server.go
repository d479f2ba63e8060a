package admin

import (
	"encoding/json"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// StatusSource reports the services baton routes.
type StatusSource interface {
	Status() Status
}

// API serves the admin endpoints. Capabilities are added with Handle as the
// packages that own them are wired; the mux stays the single place listing them.
type API struct {
	mux    *http.ServeMux
	logger *zap.Logger
}

// NewAPI returns the admin API with GET /v1/services and GET /v1/services/{name}.
func NewAPI(status StatusSource, logger *zap.Logger) *API {
	if logger == nil {
		logger = zap.NewNop()
	}
	a := &API{mux: http.NewServeMux(), logger: logger.Named("admin")}
	a.mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, status.Status())
	})
	a.mux.HandleFunc("GET /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		for _, s := range status.Status().Services {
			if s.Name == name {
				WriteJSON(w, http.StatusOK, s)
				return
			}
		}
		http.Error(w, "no service named "+name, http.StatusNotFound)
	})
	return a
}

// Handle adds an endpoint, e.g. "POST /v1/services/{name}/deploy".
func (a *API) Handle(pattern string, h http.HandlerFunc) { a.mux.HandleFunc(pattern, h) }

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// WriteJSON answers with v as indented JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ServiceName extracts and checks the {name} path value.
func ServiceName(r *http.Request) (string, bool) {
	n := r.PathValue("name")
	return n, n != "" && !strings.ContainsAny(n, "/ ")
}
