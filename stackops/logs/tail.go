package logs

// tailRing keeps the last n lines it is given, reusing its buffers, so a
// tail of filtered lines costs n lines of memory however long the log is.
type tailRing struct {
	slots []tailSlot
	next  int
	full  bool
}

type tailSlot struct {
	ts     int64
	stream uint8
	lvl    Level
	text   []byte
}

func newTailRing(n int) *tailRing {
	return &tailRing{slots: make([]tailSlot, n)}
}

func (r *tailRing) add(ts int64, stream uint8, lvl Level, text []byte) {
	if len(r.slots) == 0 {
		return
	}
	sl := &r.slots[r.next]
	sl.ts, sl.stream, sl.lvl = ts, stream, lvl
	sl.text = append(sl.text[:0], text...)
	r.next++
	if r.next == len(r.slots) {
		r.next, r.full = 0, true
	}
}

// each calls fn for the kept lines, oldest first.
func (r *tailRing) each(fn lineFunc) error {
	start, count := 0, r.next
	if r.full {
		start, count = r.next, len(r.slots)
	}
	for k := 0; k < count; k++ {
		sl := &r.slots[(start+k)%len(r.slots)]
		if err := fn(sl.ts, sl.stream, sl.lvl, sl.text); err != nil {
			return err
		}
	}
	return nil
}
