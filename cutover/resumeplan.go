package cutover

// resumePlan is what a restarted baton does with a deploy a crash (kill -9,
// power loss) left unfinished; planResume decides it from the record and
// what the Docker provider lists as serving, Resume acts on it.
type resumePlan struct {
	// Finish: the new release was verified live before the crash (the record
	// reached retiring after its verification): retire the rest and end done.
	// Otherwise the deploy is reverted: the old release serves again.
	Finish bool
	// Remove lists containers of the record the provider does not list as
	// serving (stopped by a retire cut short, exited, never started): they
	// are removed outright, since no step would otherwise reach them, and
	// on a revert the new ones go whatever their state.
	Remove []string
	// Restore lists the old replicas gone (a rolling deploy's retired
	// batches, a retire cut short): a revert recreates them from the kept
	// snapshot before it switches back, so the old release serves at the
	// replica count it had.
	Restore []string
}

// planResume decides the resume of rec; serving reports whether the provider
// lists a container as running and routable.
func planResume(rec *Record, serving func(id string) bool) resumePlan {
	var p resumePlan
	freshServing := 0
	for _, id := range rec.NewContainers {
		if serving(id) {
			freshServing++
		}
	}
	// A rolling deploy writes retiring once per batch, before its single
	// verification at the end: only a verified record may finish. Verified
	// is saved with the retiring record, never before the verify passed.
	p.Finish = rec.Step == StepRetiring && rec.Verified != "" && freshServing > 0
	for _, id := range rec.OldContainers {
		if !serving(id) {
			p.Remove = append(p.Remove, id)
			if !p.Finish {
				p.Restore = append(p.Restore, id)
			}
		}
	}
	for _, id := range rec.NewContainers {
		if !serving(id) {
			p.Remove = append(p.Remove, id)
		}
	}
	return p
}
