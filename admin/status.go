package admin

import "time"

// ServiceStatus is what `baton status` shows for one service.
type ServiceStatus struct {
	Name        string   `json:"name"`
	Hosts       []string `json:"hosts"`
	HTTPSHosts  []string `json:"https_hosts,omitempty"` // hosts users reach over HTTPS (a certificate is loaded)
	Path        string   `json:"path,omitempty"`
	LiveVersion string   `json:"live_version,omitempty"`
	Verified    string   `json:"verified"` // "verified", "unverified", "worker" (nothing to verify through), "failed", or "" when no deploy has run
	// Verdict is the word the CLI and the dashboard show for the live release:
	// VERIFIED, UNVERIFIED, WORKER, or "" when nothing is live.
	Verdict string `json:"verdict,omitempty"`
	// Verification says how the live release was verified, or why it was not.
	Verification *Verification  `json:"verification,omitempty"`
	Targets      []TargetStatus `json:"targets"`
	LastDeploy   *DeploySummary `json:"last_deploy,omitempty"`
	Static       bool           `json:"static,omitempty"`
	Image        string         `json:"image,omitempty"`   // image reference of the live containers
	Project      string         `json:"project,omitempty"` // Compose project
	DependsOn    []string       `json:"depends_on,omitempty"`
}

// TargetStatus is one container (or static address) of a service.
type TargetStatus struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Addr     string `json:"addr"`
	Version  string `json:"version,omitempty"`
	State    string `json:"state"` // starting, gating, ready, draining, stopped
	InFlight int64  `json:"in_flight"`
	Streams  int    `json:"streams"` // relayed upgraded connections (WebSockets) open now
	// Gate is the progress of a gate still running: how long readiness has
	// held (since its last failure) of the min_healthy it needs, e.g.
	// "ready 3.2s / 10s"; "serving early" when it is routed because the
	// service has nothing else that can serve.
	Gate string `json:"gate,omitempty"`
}

// Verification is the proof behind a VERIFIED, or the reason for an UNVERIFIED.
type Verification struct {
	Deploy string    `json:"deploy,omitempty"` // the deploy that verified (or could not verify) it
	At     time.Time `json:"at,omitempty"`
	Via    string    `json:"via,omitempty"` // the URL probed through baton's front door, and SNI over HTTPS
	Why    string    `json:"why,omitempty"` // why it is not verified
}

// DeploySummary is the last deploy's outcome.
type DeploySummary struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Expected string    `json:"expected,omitempty"`
	Cause    string    `json:"cause,omitempty"`
	Hint     string    `json:"hint,omitempty"`
	At       time.Time `json:"at"`
	Running  bool      `json:"running,omitempty"` // not ended yet: the dashboard shows its timeline live
}

// LabelProblem is a container that is not routed because of its labels, or a
// Traefik label that baton ignores.
type LabelProblem struct {
	Container string   `json:"container"`
	Service   string   `json:"service,omitempty"`
	Error     string   `json:"error,omitempty"`
	Ignored   []string `json:"ignored,omitempty"`
}

// Process is the baton process that answered.
type Process struct {
	Version string    `json:"version"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Upgrading is set while this process hands over to a new one.
	Upgrading bool `json:"upgrading,omitempty"`
}

// Status is the whole answer of GET /v1/services.
type Status struct {
	Baton    *Process        `json:"baton,omitempty"`
	Services []ServiceStatus `json:"services"`
	Problems []LabelProblem  `json:"problems,omitempty"`
	Docker   string          `json:"docker,omitempty"` // "connected", "degraded: ...", "off"
}
