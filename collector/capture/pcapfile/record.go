package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

func (r *Reader) u16(b []byte) uint16 {
	if r.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *Reader) u32(b []byte) uint32 {
	if r.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) u64(b []byte) uint64 {
	if r.bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// toInt keeps a 32-bit length non-negative on 32-bit platforms.
func toInt(v uint32) int {
	if uint64(v) > math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}

// read fills b and returns io.ReadFull's error unchanged, so that callers
// can tell a clean end (io.EOF before any byte) from a cut record.
func (r *Reader) read(b []byte) error {
	n, err := io.ReadFull(r.br, b)
	r.pos += int64(n)
	return err
}

func (r *Reader) discard(n int) error {
	d, err := r.br.Discard(n)
	r.pos += int64(d)
	return err
}

// grow returns the packet buffer resized to n, which callers have already
// bounded by MaxRecordSize.
func (r *Reader) grow(n int) []byte {
	if cap(r.buf) < n {
		r.buf = make([]byte, min(max(n, 2*cap(r.buf), 2048), MaxRecordSize))
	}
	return r.buf[:n]
}

func (r *Reader) unit() string {
	if r.ng {
		return "block"
	}
	return "record"
}

// recordErr classifies a read failure inside the current record.
func (r *Reader) recordErr(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: file ends inside %s %d at offset %d, after %d complete packets",
			ErrTruncated, r.unit(), r.records, r.recStart, r.packets)
	case isCorruptStream(err):
		return fmt.Errorf("%w: %s %d at offset %d: %w", ErrCorrupt, r.unit(), r.records, r.recStart, err)
	}
	return fmt.Errorf("reading %s %d at offset %d: %w", r.unit(), r.records, r.recStart, err)
}

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s %d at offset %d: %s", ErrCorrupt, r.unit(), r.records, r.recStart, fmt.Sprintf(format, args...))
}

// beginRecord reads the fixed start of the next record; a clean io.EOF means
// the file ended on a record boundary.
func (r *Reader) beginRecord(h []byte) error {
	r.records++
	r.recStart = r.pos
	if err := r.read(h); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return r.recordErr(err)
	}
	return nil
}

// buffered returns what the read buffer holds, without reading, or nil if
// that is less than min bytes.
func (r *Reader) buffered(min int) []byte {
	if r.br.Buffered() < min {
		return nil
	}
	b, _ := r.br.Peek(r.br.Buffered())
	return b
}

// consumed accounts a record that a buffered fast path returned.
func (r *Reader) consumed(n int) {
	_, _ = r.br.Discard(n) // cannot fail: the bytes are buffered
	r.records++
	r.recStart = r.pos
	r.pos += int64(n)
	r.packets++
}
