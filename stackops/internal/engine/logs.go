package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// LogsOptions selects what /containers/{id}/logs returns.
type LogsOptions struct {
	Stdout     bool
	Stderr     bool
	Follow     bool
	Timestamps bool
	Tail       string // "all" or a number
	Since      string // unix timestamp (seconds[.nanos]) as the API wants it
	Until      string
}

// ContainerLogs opens a container's log stream. The stream is multiplexed
// (see StreamFrame) unless the container has a TTY; pass tty so the reader
// can be demultiplexed with DemuxReader.
func (c *Client) ContainerLogs(ctx context.Context, id string, o LogsOptions) (io.ReadCloser, error) {
	q := url.Values{}
	q.Set("stdout", strconv.FormatBool(o.Stdout))
	q.Set("stderr", strconv.FormatBool(o.Stderr))
	if o.Follow {
		q.Set("follow", "1")
	}
	if o.Timestamps {
		q.Set("timestamps", "1")
	}
	if o.Tail != "" {
		q.Set("tail", o.Tail)
	}
	if o.Since != "" {
		q.Set("since", o.Since)
	}
	if o.Until != "" {
		q.Set("until", o.Until)
	}
	resp, err := c.do(ctx, request{path: "/containers/" + url.PathEscape(id) + "/logs", query: q})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Stream numbers in the multiplexed log and attach streams.
const (
	StreamStdin  = 0
	StreamStdout = 1
	StreamStderr = 2
)

// FrameReader reads the engine's multiplexed stream: each frame is an 8-byte
// header (stream, 3 zero bytes, big-endian uint32 length) and a payload.
type FrameReader struct {
	r   *bufio.Reader
	hdr [8]byte
}

// NewFrameReader wraps a multiplexed stream.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next frame's stream and payload. The payload is valid until
// the next call only when buf is reused; pass nil to allocate.
func (f *FrameReader) Next(buf []byte) (stream int, payload []byte, err error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("truncated log frame header: %w", err)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(f.hdr[4:])
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(f.r, buf); err != nil {
		return 0, nil, fmt.Errorf("truncated log frame: %w", err)
	}
	return int(f.hdr[0]), buf, nil
}

// Demux copies a multiplexed stream to stdout and stderr writers.
func Demux(r io.Reader, stdout, stderr io.Writer) error {
	fr := NewFrameReader(r)
	var buf []byte
	for {
		stream, payload, err := fr.Next(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		buf = payload[:0]
		w := stdout
		if stream == StreamStderr {
			w = stderr
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(payload); err != nil {
			return err
		}
	}
}
