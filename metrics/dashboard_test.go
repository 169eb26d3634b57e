package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// names records the metric names of the collectors registered on it.
type names struct {
	prometheus.Registerer
	got map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([a-z_]+)"`)

func (n *names) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 8)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			n.got[m[1]] = true
		}
	}
	return n.Registerer.Register(c)
}

type journalStub struct{}

func (journalStub) Queued() int    { return 0 }
func (journalStub) Written() int64 { return 0 }
func (journalStub) Dropped() int64 { return 0 }

// TestDashboard: the Grafana dashboard in deploy/ charts every metric lockd
// exports, and no metric it does not.
func TestDashboard(t *testing.T) {
	reg := &names{Registerer: prometheus.NewRegistry(), got: map[string]bool{}}
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Journal(journalStub{}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../deploy/grafana/lockd.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	used := map[string]bool{}
	ref := regexp.MustCompile(`lockd_[a-z_]+`)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range ref.FindAllString(tg.Expr, -1) {
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suffix); ok && reg.got[b] {
						base = b
					}
				}
				if !reg.got[base] {
					t.Errorf("panel %q charts %s, which lockd does not export", p.Title, name)
				}
				used[base] = true
			}
		}
	}
	var unused []string
	for name := range reg.got {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("metrics the dashboard does not chart: %v", unused)
	}
}
