package check

// Report is baton check's answer for one Compose project.
type Report struct {
	Project  string          `json:"project"`
	Files    []string        `json:"files"`
	HTTPS    bool            `json:"https"` // baton has an HTTPS listener (tls on)
	Services []ServiceReport `json:"services"`
	// Problems concern the whole project (the Docker provider is off).
	Problems []string `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"` // Compose's own (unset variables)
	// Routable: nothing is refused; baton check exits 0 only then.
	Routable bool `json:"routable"`
}

// Verdicts of a service.
const (
	Routed     = "routed"        // every router routed
	Partly     = "partly routed" // some routers refused
	Refused    = "refused"       // nothing routed
	Worker     = "worker"        // deployed, never routed (no host, no router)
	NotHandled = "not handled"   // baton does not consider its containers
)

// ServiceReport is what baton does with one Compose service.
type ServiceReport struct {
	Compose   string    `json:"compose_service"`
	At        string    `json:"at"`                // file:line of the service
	Service   string    `json:"service,omitempty"` // baton's service (baton.service, else project-service)
	Container string    `json:"container"`         // the first container's name
	Verdict   string    `json:"verdict"`
	Note      string    `json:"note,omitempty"` // why it is not handled
	Port      int       `json:"port,omitempty"` // the container port routed to
	Routes    []Route   `json:"routes,omitempty"`
	Refusals  []Refusal `json:"refusals,omitempty"`
	Ignored   []Label   `json:"ignored,omitempty"` // Traefik labels baton ignores (harmless)
}

// Route is one routed router (or one alternative of its rule).
type Route struct {
	Router      string   `json:"router,omitempty"` // "" for baton.host routing
	Host        string   `json:"host,omitempty"`
	Path        string   `json:"path,omitempty"`
	Rule        string   `json:"rule,omitempty"` // a rule routed as a whole (Host and Path then empty)
	Priority    int      `json:"priority,omitempty"`
	Port        int      `json:"port"`
	Listeners   string   `json:"listeners"` // "http", "https", or "https (http redirects)"
	Middlewares []string `json:"middlewares,omitempty"`
}

// Refusal is one thing baton refuses, with the label and line at fault.
type Refusal struct {
	Router string `json:"router,omitempty"`
	Label  string `json:"label,omitempty"`
	Value  string `json:"value,omitempty"`
	At     string `json:"at,omitempty"` // file:line of the label (or of the service)
	Reason string `json:"reason"`
	// Problem is the text `baton status` shows for it once running (none
	// for a label baton never sees).
	Problem string `json:"problem,omitempty"`
	Note    string `json:"note,omitempty"` // what baton check cannot know
}

// Label is a label and where it is written.
type Label struct {
	Label string `json:"label"`
	At    string `json:"at,omitempty"`
}
