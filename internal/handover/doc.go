// Package handover passes baton's listening sockets from one process to the
// next, so that neither a restart nor an upgrade refuses a connection. Two
// senders use it: systemd socket activation, and baton's own upgrade (the
// running process starts the binary on disk with its sockets). Both speak the
// convention of sd_listen_fds(3): the sockets are fds 3, 4, ... (LISTEN_FDS of
// them), named by LISTEN_FDNAMES, meant for the process LISTEN_PID. One code
// path (FromEnv, Set.Take) reads both.
//
// The kernel keeps one accept queue per listening socket: while the old and
// the new process both hold it, a connection waits in the queue for whichever
// accepts first; when the old one closes its descriptor the socket stays open
// in the new one, and nothing is refused.
//
// The main types are Set (the inherited sockets, FromEnv and Take, listenfd.go),
// Spawn and Started (the next process and its hand-shake, spawn.go) and Child
// (the new process's side, child.go). Spawn.Start holds the only loop: it
// waits for the child's ready line or its exit.
package handover
