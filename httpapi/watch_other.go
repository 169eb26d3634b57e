//go:build !linux

package httpapi

// watchHangup reports false: the parked wait watches its connection with a
// blocked read.
func watchHangup(*parkedWait) bool { return false }
