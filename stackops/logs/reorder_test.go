package logs

import (
	"testing"
	"time"
)

// Lines stored slightly out of time order come out in order; equal times
// keep their stored order; nothing is lost or repeated.
func TestLineReorder(t *testing.T) {
	base := time.Date(2026, 11, 26, 2, 45, 16, 0, time.UTC)
	var in []Line
	for i := 0; i < 2000; i++ {
		ns := i * 1000
		if i%7 == 3 {
			ns -= 2500 // stored after up to two newer lines
		}
		in = append(in, Line{Time: base.Add(time.Duration(ns)), Message: string(rune('a' + i%26))})
	}
	in = append(in, Line{Time: in[len(in)-1].Time, Message: "same-1"}, Line{Time: in[len(in)-1].Time, Message: "same-2"})
	var r lineReorder
	var out []Line
	for _, l := range in {
		if o, ok := r.push(l); ok {
			out = append(out, o)
		}
	}
	for o, ok := r.pop(); ok; o, ok = r.pop() {
		out = append(out, o)
	}
	if len(out) != len(in) {
		t.Fatalf("%d lines out, %d in", len(out), len(in))
	}
	for i := 1; i < len(out); i++ {
		if out[i].Time.Before(out[i-1].Time) {
			t.Fatalf("line %d is older than the one before it", i)
		}
	}
	if out[len(out)-2].Message != "same-1" || out[len(out)-1].Message != "same-2" {
		t.Fatalf("equal times lost their order: %q %q", out[len(out)-2].Message, out[len(out)-1].Message)
	}
}
