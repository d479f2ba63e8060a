package cutover

import (
	"reflect"
	"testing"
)

func TestPlanResume(t *testing.T) {
	up := func(ids ...string) func(string) bool {
		set := map[string]bool{}
		for _, id := range ids {
			set[id] = true
		}
		return func(id string) bool { return set[id] }
	}
	cases := []struct {
		name    string
		rec     Record
		serving func(string) bool
		want    resumePlan
	}{
		{"killed at starting: nothing new exists, revert",
			Record{Step: StepStarting, OldContainers: []string{"o1"}}, up("o1"),
			resumePlan{}},
		{"killed at gating: revert, the new one goes",
			Record{Step: StepGating, OldContainers: []string{"o1"}, NewContainers: []string{"n1"}}, up("o1", "n1"),
			resumePlan{}},
		{"blue-green retiring after verification: finish",
			Record{Step: StepRetiring, Verified: Verified, OldContainers: []string{"o1"}, NewContainers: []string{"n1"}}, up("o1", "n1"),
			resumePlan{Finish: true}},
		{"blue-green retiring, the old one already stopped: finish and remove it",
			Record{Step: StepRetiring, Verified: Verified, OldContainers: []string{"o1"}, NewContainers: []string{"n1"}}, up("n1"),
			resumePlan{Finish: true, Remove: []string{"o1"}}},
		// Regression: a rolling deploy killed in batch 1's retire was taken
		// as verified and ended done with one new replica of three, the two
		// old ones retired and nothing verified.
		{"rolling retiring of batch 1: never verified, revert and restore the replaced replica",
			Record{Step: StepRetiring, Strategy: "rolling", OldContainers: []string{"o1", "o2", "o3"}, NewContainers: []string{"n1"}}, up("o2", "o3", "n1"),
			resumePlan{Remove: []string{"o1"}, Restore: []string{"o1"}}},
		{"rolling verifying: every old replica gone, revert restores all three",
			Record{Step: StepVerifying, Strategy: "rolling", OldContainers: []string{"o1", "o2", "o3"}, NewContainers: []string{"n1", "n2", "n3"}}, up("n1", "n2", "n3"),
			resumePlan{Remove: []string{"o1", "o2", "o3"}, Restore: []string{"o1", "o2", "o3"}}},
		// Regression: the new container of a failed deploy, exited and
		// restarting by its policy, was not listed as serving and was left
		// behind by the revert; the controller then adopted it.
		{"reverting with an exited new container: it is removed",
			Record{Step: StepReverting, OldContainers: []string{"o1"}, NewContainers: []string{"n1"}}, up("o1"),
			resumePlan{Remove: []string{"n1"}}},
		{"verified but every new container died: revert",
			Record{Step: StepRetiring, Verified: Verified, OldContainers: []string{"o1"}, NewContainers: []string{"n1"}}, up("o1"),
			resumePlan{Remove: []string{"n1"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := planResume(&c.rec, c.serving)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
