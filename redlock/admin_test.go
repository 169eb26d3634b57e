package redlock

import (
	"strconv"
	"testing"

	"github.com/redis/rueidis"
)

// adminClient returns a plain client for a test server, for looking at and
// configuring it behind the engine's back.
func adminClient(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		t.Fatalf("admin client for %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

// configSet sets a server setting, failing the test on error.
func configSet(t *testing.T, addr, key, value string) {
	t.Helper()
	c := adminClient(t, addr)
	if err := c.Do(ctx(t), c.B().ConfigSet().ParameterValue().ParameterValue(key, value).Build()).Error(); err != nil {
		t.Fatalf("CONFIG SET %s %s on %s: %v", key, value, addr, err)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
