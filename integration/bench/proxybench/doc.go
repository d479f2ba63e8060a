// Command proxybench measures baton against the backend directly and against
// nginx, haproxy and caddy, side by side in one run (see integration/bench/run.sh).
// Rounds are interleaved so machine noise spreads over every target; every
// process is started from this one process (one scheduler autogroup).
package main
