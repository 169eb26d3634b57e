package client

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadBody(t *testing.T) {
	big := strings.Repeat("x", maxResponseBytes+10)
	tests := []struct {
		name string
		body string
		size int64
		want int // bytes read
	}{
		{"Empty", "", 0, 0},
		{"KnownSize", `{"released":true}`, 17, 17},
		{"UnknownSize", strings.Repeat("y", 5000), -1, 5000},
		{"AtLimit", big[:maxResponseBytes], maxResponseBytes, maxResponseBytes},
		{"OverLimitKnown", big, int64(len(big)), maxResponseBytes + 1},
		{"OverLimitUnknown", big, -1, maxResponseBytes + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte a read: the buffer must grow and stop at the limit
			// however the body arrives.
			b, err := readBody(iotest.OneByteReader(strings.NewReader(tt.body)), tt.size)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tt.want || !bytes.Equal(b, []byte(tt.body[:tt.want])) {
				t.Errorf("read %d bytes, want the first %d", len(b), tt.want)
			}
		})
	}
	t.Run("Error", func(t *testing.T) {
		if _, err := readBody(iotest.TimeoutReader(strings.NewReader("abc")), -1); err == nil {
			t.Error("got no error from a failing body")
		}
	})
}

func TestDeadlineWithin(t *testing.T) {
	soon, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want bool
	}{
		{"NoDeadline", context.Background(), time.Minute, false},
		{"Sooner", soon, time.Minute, true},
		{"Later", soon, time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			if got := deadlineWithin(tt.ctx, d); got != tt.want {
				t.Errorf("deadlineWithin(%v) = %v, want %v", d, got, tt.want)
			}
		})
	}
}
