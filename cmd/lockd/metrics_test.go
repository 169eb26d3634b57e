package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd/internal/testenv"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
)

// scrape reads GET /metrics into series → value, a series being the name
// with its labels as exposed ("lockd_waiters", or
// `lockd_operations_total{op="acquire",result="ok"}`).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := httpClient.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMetrics scrapes /metrics before and after operations on lockd in
// Redis mode, three real nodes: each moves what it should, no series
// names a lock, and a restarted node shows as rejoining.
func TestMetrics(t *testing.T) {
	nodes := testenv.StartRedis(t, 3)
	s := start(t, "--redis", strings.Join(testenv.Addrs(nodes), ","), "--max-ttl", "20s")
	base := "http://" + s.addr
	before := scrape(t, base)
	if before["lockd_redis_quorum"] != 2 || before["lockd_redis_nodes_up"] != 3 {
		t.Fatalf("at start: quorum %v, nodes up %v; want 2 and 3", before["lockd_redis_quorum"], before["lockd_redis_nodes_up"])
	}
	code, body := post(t, base+"/v1/locks/secret-name/acquire", `{"owner":"a","ttl_ms":5000}`)
	if code != http.StatusOK {
		t.Fatalf("acquire: %d %v", code, body)
	}
	if code, _ := post(t, base+"/v1/locks/secret-name/acquire", `{"owner":"b"}`); code != http.StatusConflict {
		t.Fatalf("b's acquire: %d, want 409", code)
	}
	if code, _ := post(t, base+"/v1/locks/secret-name/release", fmt.Sprintf(`{"lease":%q}`, body["lease"])); code != http.StatusOK {
		t.Fatalf("release: %d", code)
	}
	after := scrape(t, base)
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{`lockd_operations_total{op="acquire",result="ok"}`, 1},
		{`lockd_operations_total{op="acquire",result="lock_held"}`, 1},
		{`lockd_operations_total{op="release",result="ok"}`, 1},
		{`lockd_denials_total`, 1},
		{`lockd_hold_seconds_count`, 1},
		{`lockd_acquire_duration_seconds_count{result="ok"}`, 1},
		{`lockd_http_requests_total{code="200",route="POST /v1/locks/{name}/acquire"}`, 1},
		{`lockd_http_requests_total{code="409",route="POST /v1/locks/{name}/acquire"}`, 1},
	} {
		if got := after[tc.series] - before[tc.series]; got != tc.want {
			t.Errorf("%s moved %v, want %v", tc.series, got, tc.want)
		}
	}
	calls := 0.0
	for k, v := range after {
		if strings.Contains(k, "secret-name") {
			t.Errorf("series %s names a lock", k)
		}
		if strings.HasPrefix(k, "lockd_redis_call_duration_seconds_count") {
			calls += v - before[k]
		}
	}
	if calls < 6 {
		t.Errorf("%v node calls counted for an acquire, a refusal and a release on 3 nodes, want at least 6", calls)
	}

	nodes[2].Restart()
	restarted := nodes[2].Addr()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// An acquire dials the restarted node, which shows the restart.
		post(t, base+"/v1/locks/other/acquire", `{"owner":"c","ttl_ms":1000}`)
		m := scrape(t, base)
		if m[fmt.Sprintf(`lockd_redis_node_state{node=%q,state="rejoining"}`, restarted)] == 1 {
			if m["lockd_redis_nodes_up"] != 2 {
				t.Errorf("nodes up %v with one rejoining, want 2", m["lockd_redis_nodes_up"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted node never showed as rejoining")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetricsStore: with MongoDB, fence mints and journal writes show in
// /metrics.
func TestMetricsStore(t *testing.T) {
	m := mongoenv.Start(t)
	s := start(t, mongoArgs(m)...)
	base := "http://" + s.addr
	before := scrape(t, base)
	if code, body := post(t, base+"/v1/locks/journaled/acquire", `{"owner":"a","ttl_ms":5000}`); code != http.StatusOK {
		t.Fatalf("acquire: %d %v", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := scrape(t, base)
		mints := after["lockd_store_mint_duration_seconds_count"] - before["lockd_store_mint_duration_seconds_count"]
		writes := after["lockd_journal_writes_total"] - before["lockd_journal_writes_total"]
		if mints == 1 && writes >= 1 {
			if q := after["lockd_journal_queue_depth"]; q != 0 {
				t.Errorf("journal queue depth %v once written, want 0", q)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after one grant: %v mints, %v journal writes; want 1 and at least 1", mints, writes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLimitsFlags: --rate-limit answers 429 with Retry-After past the
// rate, recovers, and the refusals show in /metrics.
func TestLimitsFlags(t *testing.T) {
	s := start(t, "--rate-limit", "4", "--rate-burst", "1")
	base := "http://" + s.addr
	codes := map[int]int{}
	for range 3 {
		resp, err := httpClient.Get(base + "/v1/locks/limited")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("a 429 without Retry-After")
		}
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("three requests at once under --rate-limit 4 --rate-burst 1: %v, want a 429", codes)
	}
	if m := scrape(t, base); m[`lockd_limited_total{limit="rate"}`] < 1 {
		t.Errorf("lockd_limited_total{limit=\"rate\"} = %v, want the refusals", m[`lockd_limited_total{limit="rate"}`])
	}
	time.Sleep(300 * time.Millisecond)
	if code, _ := get(t, base+"/v1/locks/limited"); code != http.StatusOK {
		t.Errorf("after the pause: %d, want 200", code)
	}
}
