// Package check answers `baton check`: what a running baton would route and
// refuse for the services of a Compose file, before anything runs. It reads
// the file (compose.go), describes each service as the container Compose
// would create (project.go), and asks the Docker provider's own decision
// (upstream.InstanceOf) and a switchboard's own publish
// (cutover.PreviewRoutes) about them (check.go): nothing is decided here
// that a running baton decides elsewhere.
//
// The main types are File (one Compose file, Parse), Project (the files merged,
// NewProject) and Report (Check's verdict, report.go). It runs once per call:
// there is no loop.
package check
