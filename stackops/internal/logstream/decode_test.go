package logstream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// frame builds one multiplexed log frame as the engine writes it.
func frame(stream byte, payload string) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:8], uint32(len(payload)))
	copy(b[8:], payload)
	return b
}

type gotLine struct {
	ts     int64
	stream uint8
	text   string
}

func decodeAll(t *testing.T, d *Decoder, data []byte) []gotLine {
	t.Helper()
	var out []gotLine
	// One byte at a time: frames and lines must survive any read boundary.
	err := d.Decode(iotest.OneByteReader(bytes.NewReader(data)), func(ts int64, stream uint8, text []byte) error {
		out = append(out, gotLine{ts, stream, string(text)})
		return nil
	})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

func TestDecodeFramesWithTimestamps(t *testing.T) {
	t1 := "2025-11-25T22:09:01.123456789Z"
	t2 := "2025-11-25T22:09:02.000000001Z"
	var data []byte
	data = append(data, frame(1, t1+" hello stdout\n")...)
	data = append(data, frame(2, t2+" oops on stderr\r\n")...)
	// A long line split by the engine into partial entries, each with its own time.
	data = append(data, frame(1, t1+" part one, ")...)
	data = append(data, frame(2, t2+" interleaved stderr\n")...)
	data = append(data, frame(1, t2+" part two\n")...)
	data = append(data, frame(1, t2+" \n")...)                    // an empty line
	data = append(data, frame(2, t2+" no newline at the end")...) // flushed at EOF
	got := decodeAll(t, NewDecoder(false, true), data)
	ts1 := time.Date(2025, 11, 25, 22, 9, 1, 123456789, time.UTC).UnixNano()
	ts2 := time.Date(2025, 11, 25, 22, 9, 2, 1, time.UTC).UnixNano()
	want := []gotLine{
		{ts1, 1, "hello stdout"},
		{ts2, 2, "oops on stderr"},
		{ts2, 2, "interleaved stderr"},
		{ts1, 1, "part one, part two"},
		{ts2, 1, ""},
		{ts2, 2, "no newline at the end"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decoded\n%v\nwant\n%v", got, want)
	}
}

func TestDecodeBigFrame(t *testing.T) {
	big := strings.Repeat("x", 300<<10) // larger than the read buffer
	data := frame(1, "2025-11-25T22:09:01.000000000Z "+big+"\n")
	data = append(data, frame(1, "2025-11-25T22:09:01.000000000Z after\n")...)
	got := decodeAll(t, NewDecoder(false, true), data)
	if len(got) != 2 || got[0].text != big || got[1].text != "after" {
		t.Fatalf("big frame: got %d lines", len(got))
	}
}

func TestDecodeRunawayLineIsCapped(t *testing.T) {
	d := NewDecoder(false, false)
	d.maxLine = 10
	data := frame(1, "0123456")
	data = append(data, frame(1, "789abcdef")...)
	data = append(data, frame(1, "gh\n")...)
	got := decodeAll(t, d, data)
	if len(got) != 2 || got[0].text != "0123456789abcdef" || got[1].text != "gh" {
		t.Errorf("capped line: %v", got)
	}
}

func TestDecodeTruncatedFrame(t *testing.T) {
	data := frame(1, "2025-11-25T22:09:01.000000000Z hello\n")
	err := NewDecoder(false, true).Decode(bytes.NewReader(data[:len(data)-3]), func(int64, uint8, []byte) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated frame: err = %v", err)
	}
}

func TestDecodeTTY(t *testing.T) {
	data := "2025-11-25T22:09:01.000000000Z first line\r\nsecond in the same entry\r\n2025-11-25T22:09:03.000000000Z third\r\n"
	got := decodeAll(t, NewDecoder(true, true), []byte(data))
	ts1 := time.Date(2025, 11, 25, 22, 9, 1, 0, time.UTC).UnixNano()
	ts3 := time.Date(2025, 11, 25, 22, 9, 3, 0, time.UTC).UnixNano()
	want := []gotLine{{ts1, 1, "first line"}, {ts1, 1, "second in the same entry"}, {ts3, 1, "third"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tty decoded\n%v\nwant\n%v", got, want)
	}
}

func TestParseEngineTime(t *testing.T) {
	for _, s := range []string{
		"2025-11-25T22:09:01.123456789Z",
		"1999-02-28T23:59:59.999999999Z",
		"2024-02-29T00:00:00.000000000Z",
		"2100-03-01T12:00:00.5Z",
		"2025-11-25T23:09:01.123+01:00",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseEngineTime([]byte(s))
		if !ok || got != want.UnixNano() {
			t.Errorf("parseEngineTime(%s) = %d, %v; want %d", s, got, ok, want.UnixNano())
		}
	}
	for _, s := range []string{"hello", "2025-11-25 22:09:01", ""} {
		if _, ok := parseEngineTime([]byte(s)); ok {
			t.Errorf("parseEngineTime(%q) accepted", s)
		}
	}
}

func TestDecodeDoesNotAllocatePerLine(t *testing.T) {
	var data []byte
	for i := 0; i < 1000; i++ {
		data = append(data, frame(1, fmt.Sprintf("2025-11-25T22:09:01.%09dZ line %d\n", i, i))...)
	}
	n := 0
	allocs := testing.AllocsPerRun(5, func() {
		_ = NewDecoder(false, true).Decode(bytes.NewReader(data), func(int64, uint8, []byte) error { n++; return nil })
	})
	if allocs > 20 {
		t.Errorf("decoding 1000 lines allocated %.0f times; want a constant handful", allocs)
	}
}
