// Command baton is an edge reverse proxy with zero-downtime deploys for Docker
// containers. This file only dispatches to one subcommand per file.
//
// Each subcommand is a file of its own (serve.go, deploy.go, status.go, ...);
// main calls run(ctx, args), which dispatches. The long-running loop is
// `baton serve`: server.run (serve.go) wires the packages together and waits
// until its context ends (SIGTERM, SIGINT); SIGHUP reloads, SIGUSR2 upgrades.
package main
