// Package upstream finds the containers baton routes: the Docker provider
// (docker.go), which lists containers and follows Docker's events, and the
// label parser (labels.go for baton.*, traefik.go for Traefik v3's labels),
// which turns a container's labels into a Spec, failing closed: a bad label
// leaves that container unrouted, named in a LabelError, and never breaks
// the others.
//
// The main types: Docker (the provider; control.go adapts it to the small
// interfaces health and drain declare), Instance (one routable container,
// instance.go, built by InstanceOf) and Spec (its routing, spec.go). The loop
// is Docker.Run: list, then follow events (follow), re-listing after a lost
// stream, and hand every change to the provider's Sink (cutover's Controller).
package upstream
