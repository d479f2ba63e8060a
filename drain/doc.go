// Package drain accounts for the traffic each target serves (in-flight
// requests, upgraded connections) and retires a target without cutting it:
// wait for in-flight work up to a bound, cancel what outlives it with a clear
// cause, end WebSockets with 1001, then run the pre-stop hook, the stop
// signal, the grace period, SIGKILL.
//
// The main types are Registry (one Target per container, registry.go), Target
// (the proxy's in-flight and upgrade accounting, target.go) and Retirer (the
// whole retirement, retire.go). The waiting loop is Target.Drain (drain.go);
// the pre-stop hook's polling is in prestop.go.
package drain
