package redlock

import (
	"time"

	"github.com/lockd/lockd"
)

// Read-write locks. Per node, a lock's writer is its lock hash (acquire.lua,
// as for a plain lock) and its readers live in two keys beside it: a sorted
// set of read leases scored by expiry on the node's clock, and a hash of
// their details (read_acquire.lua). A node grants a read only while no lock
// hash exists, and a write only while no unexpired reader exists, so any
// two quorums, which share a node, cannot hold a writer and a reader at
// once: the same argument as for two writers.
//
// Writers are not starved: a write acquire that waits and is refused
// because of readers sets a writer-waiting mark on each node it asks, with
// an expiry of WriterMark (at most its remaining wait), renewed on each of
// its retries; new readers are refused while the mark lives. A writer that
// gives up or dies blocks new readers for WriterMark at most.

// WriterMark is how long a write acquire that waits for readers keeps new
// readers out after its last attempt (its remaining wait, when shorter):
// the most a writer that gives up or dies delays new readers. The waiting
// writer renews it on every retry, which comes at least every wait poll
// (DefaultWaitPoll, 500ms): WriterMark is four times that, or three times
// a longer poll set with WithWaitPoll.
const WriterMark = 2 * time.Second

var readAcquireScript = loadScript("read_acquire")

// readersKey is the sorted set of a lock's read leases by expiry.
func (e *Engine) readersKey(name string) string { return e.cfg.prefix + "rl:" + name }

// readerDetailsKey is the hash of a lock's read leases' details.
func (e *Engine) readerDetailsKey(name string) string { return e.cfg.prefix + "rd:" + name }

// writerMarkKey is a lock's writer-waiting mark.
func (e *Engine) writerMarkKey(name string) string { return e.cfg.prefix + "ww:" + name }

// markFor is how long a write acquire that waits until deadline marks the
// lock as waited for by a writer: WriterMark (three wait polls when
// longer), never past the deadline; 0 for an acquire that does not wait.
func (e *Engine) markFor(deadline time.Time) time.Duration {
	return min(max(WriterMark, 3*e.cfg.waitPoll), time.Until(deadline))
}

// released wakes the lines of both modes of the lock name: a release of
// the writer or of the last reader frees it for either.
func (e *Engine) released(name string) {
	e.lines.Released(name)
	e.lines.Released(lockd.ReadLine(name))
}

// isReadLine reports whether line is the line of readers of name: a grant
// to the reader before in that line does not keep the next one out.
func isReadLine(line, name string) bool { return line == lockd.ReadLine(name) }
