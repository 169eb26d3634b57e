// Package lockd holds the domain of the lockd distributed lock service: the
// Lease and LockInfo types, acquire options and their limits, the Engine
// interface that every lock backend implements, and the error values that
// callers compare with errors.Is.
//
// The package uses only the standard library. Backends live in their own
// packages: redlock (Redlock over N independent Redis nodes) and memlock (an
// in-memory engine for dev mode and tests). The HTTP server (httpapi) and the
// Go SDK (client) carry the same types and errors over the wire, so
// errors.Is(err, lockd.ErrNotObtained) holds whether the engine runs
// in-process or behind lockd.
package lockd
