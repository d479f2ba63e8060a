// Command overload is `make bench-overload`: baton in front of a backend of
// fixed capacity, driven at ten times what that backend can take, and
// baton under a slowloris of 1,000 slow-header clients. It prints baton's
// RSS, the p99 of the well-behaved clients, the shed counts and how the
// admin endpoint answered meanwhile.
//
// Overload: the "slow" service is a backend with 20 workers and 20 ms per
// request (1,000 req/s at most); 200 wrk connections (ten times its
// workers) hammer it through baton, whose routes[].max_inflight bounds it at
// 40. Beside them, 8 well-behaved wrk connections use the "fast" service.
// Slowloris: 1,000 connections each send a request head a byte a second and
// never finish it (each is cut at proxy.read_header_timeout and dials
// again), while 8 wrk connections use the fast service.
package main
