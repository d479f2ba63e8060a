// Package config loads baton.yaml. Every mistake a user can make in the file is
// an error naming the file, the line and the key, and baton refuses to start
// (or, on reload, keeps the config it has).
//
// The main type is Config (config.go), read by Load and Parse (load.go) and
// checked by validate.go. It holds no state and runs no loop: `baton serve`
// loads it at start and on SIGHUP (cmd/baton/serve.go, reload).
package config
