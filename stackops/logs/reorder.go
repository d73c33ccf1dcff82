package logs

import "container/heap"

// reorderWindow is how far (in lines) a line may be stored out of time
// order within one container's log and still come out in order.
const reorderWindow = 256

// lineReorder puts one container's lines back in time order. The engine
// copies stdout and stderr into the log with one goroutine each, so a line
// is sometimes stored a few microseconds after a newer line of the other
// stream; the log API returns them in stored order. Holding the last
// reorderWindow lines in a min-heap and releasing the oldest fixes that
// with bounded memory; lines with equal times keep their stored order.
type lineReorder struct {
	h   reorderHeap
	seq int64
}

type reorderItem struct {
	line Line
	seq  int64
}

type reorderHeap []reorderItem

func (h reorderHeap) Len() int { return len(h) }
func (h reorderHeap) Less(i, j int) bool {
	if !h[i].line.Time.Equal(h[j].line.Time) {
		return h[i].line.Time.Before(h[j].line.Time)
	}
	return h[i].seq < h[j].seq
}
func (h reorderHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *reorderHeap) Push(x any)   { *h = append(*h, x.(reorderItem)) }
func (h *reorderHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// push adds l and, once the window is full, returns the oldest line held.
func (r *lineReorder) push(l Line) (Line, bool) {
	r.seq++
	heap.Push(&r.h, reorderItem{line: l, seq: r.seq})
	if r.h.Len() <= reorderWindow {
		return Line{}, false
	}
	return heap.Pop(&r.h).(reorderItem).line, true
}

// pop returns the oldest line held, for the end of the log.
func (r *lineReorder) pop() (Line, bool) {
	if r.h.Len() == 0 {
		return Line{}, false
	}
	return heap.Pop(&r.h).(reorderItem).line, true
}
