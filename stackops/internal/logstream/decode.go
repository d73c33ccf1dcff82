// Package logstream reads a container's log from the Docker Engine API as
// lines: the request, and the decoding of the engine's stream (multiplexed
// frames or a TTY's raw bytes, with timestamps). The logs commands (package
// stackops/logs) and the deploy failure report (stackops' TailLogs) both
// read logs through it.
package logstream

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// LineFunc receives one log line: the engine's timestamp in unix
// nanoseconds (0 when the stream has none), the stream (1 stdout, 2 stderr)
// and the text without its line end. text is valid only during the call: it
// points into the read buffer, so a million lines cost no allocation.
type LineFunc func(ts int64, stream uint8, text []byte) error

// maxLogLine caps a line assembled from partial frames (the engine splits
// lines longer than 16 KiB); a longer one is passed on in pieces so one
// runaway line cannot grow memory without bound.
const maxLogLine = 1 << 20

// Decoder turns the engine's log stream into lines. The stream is the
// multiplexed format (an 8-byte header per frame: stream, 3 zero bytes,
// big-endian length) unless the container has a TTY, when it is raw bytes.
// With timestamps=1 every log entry starts with an RFC 3339 time and a space.
type Decoder struct {
	timestamps bool
	tty        bool
	maxLine    int

	pending   [3][]byte // a line's start, waiting for its end, per stream
	pendingTS [3]int64
	frameTS   int64 // the timestamp of the frame being read
}

// NewDecoder returns a decoder for a container with or without a TTY, for
// a stream requested with or without timestamps.
func NewDecoder(tty, timestamps bool) *Decoder {
	return &Decoder{tty: tty, timestamps: timestamps, maxLine: maxLogLine}
}

// Decode reads r to its end, calling fn for every line.
func (d *Decoder) Decode(r io.Reader, fn LineFunc) error {
	br := bufio.NewReaderSize(r, 256<<10)
	if d.tty {
		return d.decodeRaw(br, fn)
	}
	return d.decodeFrames(br, fn)
}

func (d *Decoder) decodeFrames(br *bufio.Reader, fn LineFunc) error {
	for {
		hdr, err := br.Peek(8)
		if len(hdr) < 8 {
			if errors.Is(err, io.EOF) {
				if len(hdr) == 0 {
					return d.flush(fn)
				}
				return fmt.Errorf("truncated log frame header")
			}
			return err
		}
		stream := hdr[0]
		if stream != 2 {
			stream = 1
		}
		n := int(binary.BigEndian.Uint32(hdr[4:8]))
		_, _ = br.Discard(8)
		if n <= br.Size() {
			p, err := br.Peek(n)
			if len(p) < n {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("truncated log frame")
				}
				return err
			}
			ferr := d.frame(stream, p, fn)
			_, _ = br.Discard(n)
			if ferr != nil {
				return ferr
			}
			continue
		}
		// A frame larger than the buffer is passed through in pieces, so a
		// frame's length (up to 4 GiB in the header) never sizes an allocation.
		first := true
		for n > 0 {
			k := min(n, br.Size())
			p, err := br.Peek(k)
			if len(p) < k {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("truncated log frame")
				}
				return err
			}
			ferr := d.piece(stream, p, first, fn)
			_, _ = br.Discard(k)
			if ferr != nil {
				return ferr
			}
			first, n = false, n-k
		}
	}
}

// frame handles one log entry: its timestamp, then its lines; a piece
// without a newline waits for the rest of the line in the next entry.
func (d *Decoder) frame(stream uint8, p []byte, fn LineFunc) error {
	return d.piece(stream, p, true, fn)
}

// piece handles a frame, or a piece of one: only a frame's first piece
// starts with its timestamp; later pieces carry it on.
func (d *Decoder) piece(stream uint8, p []byte, first bool, fn LineFunc) error {
	if first {
		d.frameTS = 0
		if d.timestamps {
			d.frameTS, p = splitTimestamp(p)
		}
	}
	ts := d.frameTS
	for len(p) > 0 {
		nl := bytes.IndexByte(p, '\n')
		if nl < 0 {
			if len(d.pending[stream]) == 0 {
				d.pendingTS[stream] = ts
			}
			d.pending[stream] = append(d.pending[stream], p...)
			if len(d.pending[stream]) >= d.maxLine {
				return d.emitPending(stream, fn)
			}
			return nil
		}
		line, lts := p[:nl], ts
		p = p[nl+1:]
		if len(d.pending[stream]) > 0 {
			d.pending[stream] = append(d.pending[stream], line...)
			line, lts = d.pending[stream], d.pendingTS[stream]
		}
		err := fn(lts, stream, trimCR(line))
		d.pending[stream] = d.pending[stream][:0]
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Decoder) emitPending(stream uint8, fn LineFunc) error {
	line := d.pending[stream]
	err := fn(d.pendingTS[stream], stream, trimCR(line))
	d.pending[stream] = d.pending[stream][:0]
	return err
}

// flush passes on lines left without a final newline.
func (d *Decoder) flush(fn LineFunc) error {
	for s := uint8(1); s <= 2; s++ {
		if len(d.pending[s]) > 0 {
			if err := d.emitPending(s, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeRaw reads a TTY container's stream: lines of raw terminal output,
// each starting with a timestamp when the engine's entry started there (a
// terminal's output is not split at line ends, so a line without one
// carries the previous line's time).
func (d *Decoder) decodeRaw(br *bufio.Reader, fn LineFunc) error {
	var last int64
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(d.pending[1]) == 0 {
				d.pendingTS[1] = last
			}
			d.pending[1] = append(d.pending[1], chunk...)
			if len(d.pending[1]) >= d.maxLine {
				if err := d.emitPending(1, fn); err != nil {
					return err
				}
			}
			continue
		}
		if len(chunk) > 0 {
			line := chunk
			if len(d.pending[1]) > 0 {
				d.pending[1] = append(d.pending[1], chunk...)
				line = d.pending[1]
			}
			line = bytes.TrimSuffix(line, []byte("\n"))
			ts := last
			if d.timestamps {
				if t, rest := splitTimestamp(line); t != 0 {
					ts, line, last = t, rest, t
				}
			}
			if len(line) > 0 || err == nil {
				if ferr := fn(ts, 1, trimCR(line)); ferr != nil {
					return ferr
				}
			}
			d.pending[1] = d.pending[1][:0]
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// splitTimestamp takes the engine's "2006-01-02T15:04:05.000000000Z " prefix
// off p. When p does not start with a time it returns 0 and p unchanged.
func splitTimestamp(p []byte) (int64, []byte) {
	sp := bytes.IndexByte(p[:min(len(p), 40)], ' ')
	if sp < 0 {
		// A line that is only a timestamp: an empty line.
		if ts, ok := parseEngineTime(trimLineEnd(p)); ok {
			return ts, p[len(trimLineEnd(p)):]
		}
		return 0, p
	}
	ts, ok := parseEngineTime(p[:sp])
	if !ok {
		return 0, p
	}
	return ts, p[sp+1:]
}

func trimLineEnd(p []byte) []byte {
	return bytes.TrimRight(p, "\r\n")
}

// parseEngineTime reads an RFC 3339 time as the engine writes it (UTC, nine
// fractional digits) without allocating, and any other RFC 3339 time
// through the time package.
func parseEngineTime(b []byte) (int64, bool) {
	if len(b) == 30 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[19] == '.' && b[29] == 'Z' {
		num := func(s []byte) (int, bool) {
			n := 0
			for _, c := range s {
				if c < '0' || c > '9' {
					return 0, false
				}
				n = n*10 + int(c-'0')
			}
			return n, true
		}
		y, ok1 := num(b[0:4])
		mo, ok2 := num(b[5:7])
		d, ok3 := num(b[8:10])
		h, ok4 := num(b[11:13])
		mi, ok5 := num(b[14:16])
		s, ok6 := num(b[17:19])
		ns, ok7 := num(b[20:29])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 {
			days := daysFromCivil(y, mo, d)
			return (days*86400+int64(h)*3600+int64(mi)*60+int64(s))*1e9 + int64(ns), true
		}
	}
	if len(b) < 20 || b[4] != '-' || b[10] != 'T' {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d (proleptic
// Gregorian; Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
