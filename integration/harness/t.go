package harness

// T is what the harness needs of a test: *testing.T satisfies it, and so does
// the demo program's runner, which uses the same harness outside `go test`.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}
