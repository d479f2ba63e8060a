package cache

import "slices"

// The LRU list is intrusive (links live in Entry), so moving an entry to the
// front on a hit allocates nothing. All methods need the shard's lock.

func (sh *shard) pushFront(e *Entry) {
	e.prev, e.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
	sh.bytes += e.size
	sh.count++
}

// touch marks e as just used.
func (sh *shard) touch(e *Entry) {
	if sh.head == e {
		return
	}
	sh.detach(e)
	e.prev, e.next = nil, sh.head
	sh.head.prev = e
	sh.head = e
}

func (sh *shard) detach(e *Entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// unlink takes e off the list and out of the accounting, leaving its variants
// to the caller.
func (sh *shard) unlink(e *Entry) {
	sh.detach(e)
	sh.bytes -= e.size
	sh.count--
}

// remove unlinks e and drops it from its variants, and the key when it was the last.
func (sh *shard) remove(e *Entry) {
	sh.unlink(e)
	v := e.owner
	if i := slices.Index(v.entries, e); i >= 0 {
		v.entries = slices.Delete(v.entries, i, i+1)
	}
	if len(v.entries) == 0 && sh.items[e.key] == v {
		delete(sh.items, e.key)
	}
}
