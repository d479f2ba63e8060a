// Package benchproc holds what the load benchmarks (proxybench, overload)
// read of the processes they start, from /proc, and the ports they give them.
//
// Plain functions (FreePort, WaitPort, Tree, CPUSeconds, RSSMiB); no state,
// no loop.
package benchproc
