// Command backend is the benchmark's upstream: it answers every request with
// the same 1 KiB body, as cheaply as net/http allows, and echoes WebSocket
// messages on /ws (the relayed-WebSocket rows). With -delay and
// -concurrency it is an application of fixed capacity (a worker pool):
// at most that many requests are worked on at once, each for delay; the
// others wait their turn, as they would for a thread.
package main
