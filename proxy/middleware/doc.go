// Package middleware holds the request middlewares a router may attach, with
// Traefik's names, option names and semantics, so that a label set written
// for Traefik protects an app the same way behind baton. Each kind is a small
// constructor in its own file, registered under Traefik's lower-case name;
// a middleware that fails to build makes its router unrouted (fail closed).
//
// The entry point is Build (middleware.go), from a Spec to an http.Handler;
// each handler runs on the request's goroutine; no goroutine or loop of its
// own.
package middleware
