//go:build race

package rule

// raceEnabled: the race detector drops sync.Pool items at random, so the
// regexp machines' pool allocates now and then; allocation counts are not
// checked under it.
const raceEnabled = true
