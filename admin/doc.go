// Package admin is baton's control plane over HTTP: the API the CLI talks to
// (status, deploy, rollback, cache purge) on a unix socket, and its client.
// It never listens on a TCP address without a token: whoever reaches it can
// deploy containers, which is as good as root on the host.
//
// The main type is API, an http.Handler: NewAPI serves the status routes and
// the packages that own the other capabilities are wired in with HandleDeploys,
// HandlePurge, HandleTLS and HandleUpgrade; Listen opens the socket (listen.go)
// and RequireToken guards TCP. There is no loop here: `baton serve` runs the
// http.Server around API (cmd/baton/serve.go). Client is the CLI's side.
package admin
