//go:build race

package proxy

// raceEnabled: the race detector drops sync.Pool items at random, so the
// regexp machines' pool allocates now and then; allocation counts are not
// checked under it.
const raceEnabled = true
