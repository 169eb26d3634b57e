package cli

import (
	"io"
	"sync"
	"time"
)

// BatchWriter gathers what is written to it and writes it on to w in
// batches: at most every after, or at once when more than limit bytes are
// waiting. A busy lockd logs two event lines a lock cycle; written one by
// one, those writes cost about 8% of its CPU under contention. A line
// waits at most after (plus the write itself) before w has it, and lines
// still waiting when the process dies are lost, so call Flush before
// exiting. It is safe for concurrent use.
type BatchWriter struct {
	w     io.Writer
	after time.Duration
	limit int

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // armed while buf is not empty
	err    error       // the last write error, returned by the next Write
	closed bool
}

// NewBatchWriter returns a BatchWriter writing to w.
func NewBatchWriter(w io.Writer, after time.Duration, limit int) *BatchWriter {
	b := &BatchWriter{w: w, after: after, limit: limit}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write keeps p for the next batch. It writes the batch at once when it
// holds more than the limit, and reports the error of an earlier batch.
func (b *BatchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	if len(b.buf) == 0 {
		b.timer.Reset(b.after)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.limit {
		if err := b.flushLocked(); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Flush writes what waits. After Close it is a no-op.
func (b *BatchWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *BatchWriter) flushLocked() error {
	b.timer.Stop()
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	if len(b.buf) > 4*b.limit {
		b.buf = nil // do not keep a burst's buffer for ever
	} else {
		b.buf = b.buf[:0]
	}
	if err != nil {
		b.err = err
	}
	return err
}

// Close flushes, and from then on writes go straight to w.
func (b *BatchWriter) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.closed = true
	return err
}
