// Package cutover decides which targets serve each service and moves traffic
// between them: the deploy state machine (gate, switch, verify, retire, revert)
// and the switchboard that turns those decisions into the proxy's route table.
//
// The main types: Controller (controller.go) follows the containers the
// Docker provider reports, gates new ones and publishes the live targets;
// Deployer (deploy.go) runs one deploy, rollback or adoption at a time per
// service as a run (run.go, rolling.go: the state machine, each step recorded
// in a Record before it takes effect, record.go); Switchboard (switchboard.go)
// turns every service's routes into one proxy.Table. The controller has no
// loop of its own: the provider's loop calls Update; a deploy's loop is
// run.deploy and the steps it chains.
package cutover
