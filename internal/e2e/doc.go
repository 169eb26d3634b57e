// Package e2e tests lockd's SDK end to end: through the HTTP API, or linked
// in, over the Redlock engine on real redis-server processes, with nodes
// stopped and paused under it. It has no code of its own.
//
// These tests live apart from package client on purpose: go mod tidy, in a
// module that imports the SDK, downloads what the tests of every imported
// package import. Here, Redis and its test fallback stay out of an SDK
// user's go.sum.
package e2e
