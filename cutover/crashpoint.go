//go:build !batontest

package cutover

// crashAfter is the crash matrix's failpoint (crashpoint_batontest.go); a
// release build has none: nothing in the environment can make it kill itself.
func crashAfter(*Store, Step) {}
