package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/capture/capturetest"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// prometheusAccept is the Accept header Prometheus 3 sends by default.
const prometheusAccept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"

// gatherText encodes a direct Gather of g in the given format.
func gatherText(t testing.TB, g prometheus.Gatherer, format expfmt.Format) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func get(t testing.TB, h http.Handler, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// filePipeline replays a capture to its end and returns the stopped
// pipeline.
func filePipeline(t testing.TB, name, path string, det *detector.Detector) *pipeline.Pipeline {
	t.Helper()
	src, err := capture.OpenFile(capture.FileConfig{Path: path}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg := features.DefaultConfig()
	cfg.TopK = 10
	p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: name, Features: cfg, Lossless: true, Detector: det}, src, slog.New(slog.DiscardHandler))
	p.Run(context.Background())
	return p
}

// TestScrapeHandlerMatchesGather: the served bytes are those of a direct
// Gather of the same registry, in the text format and in OpenMetrics,
// plain and gzipped.
func TestScrapeHandlerMatchesGather(t *testing.T) {
	p := filePipeline(t, "ftp", "../cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap", detector.New(detector.DefaultConfig(), "ftp", nil))
	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyTruncate, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 5), versioncollector.NewCollector("netanomaly"))
	h := NewScrapeHandler(reg, []*pipeline.Pipeline{p}, ScrapeOpts{})

	text := gatherText(t, reg, expfmt.FmtText)
	om := gatherText(t, reg, expfmt.FmtOpenMetrics_1_0_0)
	if !strings.Contains(text, `netanomaly_windows_total{interface="ftp"} 7`) {
		t.Fatalf("the capture's windows are not in the gather:\n%s", text)
	}
	for _, c := range []struct {
		accept, encoding string
		want             string
		contentType      string
	}{
		{"", "", text, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"},
		{"", "gzip", text, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"},
		{"text/plain;version=0.0.4", "gzip;q=0, identity", text, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"},
		{"application/openmetrics-text", "", om, "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores"},
		{prometheusAccept, "gzip", om, "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "*", text, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"},
	} {
		resp := get(t, h, "/metrics", map[string]string{"Accept": c.accept, "Accept-Encoding": c.encoding})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Accept %q: status %d", c.accept, resp.StatusCode)
		}
		wantGzip := c.encoding == "gzip" || c.encoding == "*"
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != wantGzip {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", c.encoding, got, wantGzip)
		}
		if got := resp.Header.Get("Content-Type"); got != c.contentType {
			t.Errorf("Accept %q: Content-Type %q, want %q", c.accept, got, c.contentType)
		}
		if got := body(t, resp); got != c.want {
			t.Errorf("Accept %q, Accept-Encoding %q: served bytes differ from a direct Gather:\n%s", c.accept, c.encoding, firstDiff(got, c.want))
		}
	}
	if !strings.HasSuffix(om, "# EOF\n") {
		t.Errorf("OpenMetrics does not end with # EOF:\n%s", om[max(0, len(om)-200):])
	}

	// ?name[]= selects families from the last gather.
	resp := get(t, h, "/metrics?name[]=netanomaly_capture_up&name[]=netanomaly_windows_total", nil)
	want := "# HELP netanomaly_capture_up Whether the capture source is open and delivering (1) or not (0: see netanomaly_capture_state for why).\n# TYPE netanomaly_capture_up gauge\nnetanomaly_capture_up{interface=\"ftp\"} 0\n# HELP netanomaly_windows_total Feature windows closed.\n# TYPE netanomaly_windows_total counter\nnetanomaly_windows_total{interface=\"ftp\"} 7\n"
	if got := body(t, resp); got != want {
		t.Errorf("name[] filter:\n%s\nwant\n%s", got, want)
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got  " + g[i] + "\n want " + w[i]
		}
	}
	return "lengths differ: got " + strconv.Itoa(len(g)) + " lines, want " + strconv.Itoa(len(w))
}

// TestScrapeHandlerWindowClose: a window closing on a live pipeline is
// served within the poll interval, without a scrape causing a render, and
// the served bytes equal a Gather made at the same point.
func TestScrapeHandlerWindowClose(t *testing.T) {
	const sec = int64(time.Second)
	base := int64(1_700_000_000) * sec
	src := capturetest.SYNs(base, 5, time.Second, false)
	p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: "eth0", Features: features.DefaultConfig()}, src, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	testutil.WaitFor(t, "the packets", func() bool { return p.Snapshot().Counters.Packets[0] == 5 })

	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyFull, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 0))
	// A long interval: only the window close can make it render.
	h := NewScrapeHandler(reg, []*pipeline.Pipeline{p}, ScrapeOpts{Interval: time.Hour, Poll: 10 * time.Millisecond})
	renderCtx, stopRender := context.WithCancel(context.Background())
	defer stopRender()
	go h.Run(renderCtx)
	if got := body(t, get(t, h, "/metrics", nil)); strings.Contains(got, "netanomaly_window_start_timestamp_seconds") {
		t.Fatal("a window is served before one closed")
	}

	src.SetClock(base + 16*sec) // minus the 1 s grace: one window closes
	testutil.WaitFor(t, "the window in the scrape", func() bool {
		return strings.Contains(body(t, get(t, h, "/metrics", nil)), `netanomaly_windows_total{interface="eth0"} 1`)
	})
	got := body(t, get(t, h, "/metrics", nil))
	if !strings.Contains(got, `netanomaly_window_start_timestamp_seconds{interface="eth0"} 1.7e+09`) {
		t.Errorf("the closed window's gauges are not served:\n%s", got)
	}
	// The feature stage's busy time moves with every clock tick: compare
	// the rest with a Gather made now.
	busy := func(s string) string {
		var b strings.Builder
		for line := range strings.Lines(s) {
			if !strings.Contains(line, "netanomaly_feature_processing_seconds_total{") {
				b.WriteString(line)
			}
		}
		return b.String()
	}
	if want := gatherText(t, reg, expfmt.FmtText); busy(got) != busy(want) {
		t.Errorf("served bytes after the window close differ from a Gather:\n%s", firstDiff(busy(got), busy(want)))
	}

	// Capture going down is served at once too.
	cancel()
	<-p.Done()
	testutil.WaitFor(t, "capture_up 0 in the scrape", func() bool {
		return strings.Contains(body(t, get(t, h, "/metrics", nil)), `netanomaly_capture_up{interface="eth0"} 0`)
	})
}

// TestScrapeHandlerFinishedIsFinal: a scrape that says a replay finished
// has the replay's final counters, though the capture stage ends before
// the feature stage publishes them.
func TestScrapeHandlerFinishedIsFinal(t *testing.T) {
	for range 20 {
		src, err := capture.OpenFile(capture.FileConfig{Path: "../cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap"}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: "ftp", Features: features.DefaultConfig(), Lossless: true}, src, slog.New(slog.DiscardHandler))
		anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyFull, nil)
		reg := prometheus.NewRegistry()
		reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 0))
		h := NewScrapeHandler(reg, []*pipeline.Pipeline{p}, ScrapeOpts{Poll: time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		go h.Run(ctx)
		go p.Run(context.Background())
		var got string
		testutil.WaitFor(t, "the finished state", func() bool {
			got = body(t, get(t, h, "/metrics", nil))
			return strings.Contains(got, `netanomaly_capture_state{interface="ftp",state="finished"} 1`)
		})
		cancel()
		if !strings.Contains(got, `netanomaly_packets_total{interface="ftp",protocol="tcp"} 606`) || !strings.Contains(got, `netanomaly_windows_total{interface="ftp"} 7`) {
			t.Fatalf("finished without the final counters:\n%s", got)
		}
	}
}

// blockingCollector blocks its Collect until released.
type blockingCollector struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	block   atomic.Bool
}

func (c *blockingCollector) Describe(chan<- *prometheus.Desc) {}
func (c *blockingCollector) Collect(chan<- prometheus.Metric) {
	if c.block.Load() {
		c.once.Do(func() { close(c.entered) })
		<-c.release
	}
}

// TestScrapeHandlerNeverBlocks: while a render is stuck in the gather
// (a collector that does not return), scrapes are served at once with
// the previous rendition.
func TestScrapeHandlerNeverBlocks(t *testing.T) {
	p := filePipeline(t, "ftp", "../cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap", nil)
	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyFull, nil)
	bc := &blockingCollector{entered: make(chan struct{}), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 0), bc)
	h := NewScrapeHandler(reg, []*pipeline.Pipeline{p}, ScrapeOpts{Interval: 10 * time.Millisecond, Poll: 5 * time.Millisecond})
	want := body(t, get(t, h, "/metrics", nil))

	bc.block.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	select {
	case <-bc.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the renderer did not gather")
	}
	scrapeOver(t, h, 20, "during a stuck render", func(got string) bool { return got == want })
	close(bc.release)
}

// scrapeOver scrapes h over HTTP n times, 5 ms apart, each answer within 2 s
// and accepted by ok.
func scrapeOver(t *testing.T, h http.Handler, n int, when string, ok func(body string) bool) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Timeout: 2 * time.Second}
	for range n {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("scrape %s: %v", when, err)
		}
		got := body(t, resp)
		resp.Body.Close()
		if !ok(got) {
			t.Fatalf("scrape %s: status %d, unexpected body:\n%s", when, resp.StatusCode, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestScrapeHandlerPipelineStuck: a pipeline whose feature stage is stuck
// (here in its window callback) blocks neither scrapes nor renders.
func TestScrapeHandlerPipelineStuck(t *testing.T) {
	const sec = int64(time.Second)
	base := int64(1_700_000_000) * sec
	src := capturetest.SYNs(base, 1, time.Second, false)
	stuck, release := make(chan struct{}), make(chan struct{})
	p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: "eth0", Features: features.DefaultConfig(), OnWindow: func(*features.Window) {
		close(stuck)
		<-release
	}}, src, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	defer close(release)
	testutil.WaitFor(t, "the packet", func() bool { return p.Snapshot().Counters.Packets[0] == 1 })
	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyFull, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 0))
	h := NewScrapeHandler(reg, []*pipeline.Pipeline{p}, ScrapeOpts{Interval: 10 * time.Millisecond, Poll: 5 * time.Millisecond})
	go h.Run(ctx)
	src.SetClock(base + 16*sec)
	<-stuck
	scrapeOver(t, h, 20, "while the pipeline is stuck", func(got string) bool {
		return strings.Contains(got, `netanomaly_packets_total{interface="eth0",protocol="tcp"} 1`)
	})
	done := make(chan struct{})
	go func() { h.Render(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("a render waited for the stuck pipeline")
	}
}

// TestScrapeHandlerRenderGap: a replay closing windows as fast as it
// reads them is rendered at most every changeGap, not at every poll: each
// render holds a CPU for milliseconds that scrapes wait for.
func TestScrapeHandlerRenderGap(t *testing.T) {
	src, err := capture.OpenFile(capture.FileConfig{Path: "../test/corpus/testdata/benign-busy-hour.pcap.gz", Loop: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: "replay", Features: features.DefaultConfig(), Lossless: true}, src, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyFull, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 0))
	// A long interval: only window closes make it render.
	h := NewScrapeHandler(reg, []*pipeline.Pipeline{p}, ScrapeOpts{Interval: time.Hour, Poll: 5 * time.Millisecond})
	go h.Run(ctx)
	var renders []time.Time
	var last *rendition
	windows0 := uint64(0)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if r := h.cur.Load(); r != last && r != nil {
			last = r
			renders = append(renders, r.at)
		}
		if s := p.Snapshot(); windows0 == 0 {
			windows0 = s.Counters.Windows + 1
		}
	}
	closed := p.Snapshot().Counters.Windows + 1 - windows0
	if closed < 50 {
		t.Fatalf("the replay closed %d windows in 2 s: too slow to tell", closed)
	}
	if len(renders) < 1 || len(renders) > 5 {
		t.Errorf("%d renders in 2 s while %d windows closed, want 1 to 5 (at window closes, at most every %v)", len(renders), closed, changeGap)
	}
	for i := 1; i < len(renders); i++ {
		if gap := renders[i].Sub(renders[i-1]); gap < changeGap-changeGap/10 {
			t.Errorf("renders %v apart, want %v or more", gap, changeGap)
		}
	}
}

// TestScrapeHandlerRuntimeAndPromhttp: the Go runtime, process and
// promhttp handler metrics are served, and refreshed by the periodic
// render.
func TestScrapeHandlerRuntimeAndPromhttp(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sh := NewScrapeHandler(reg, nil, ScrapeOpts{Interval: 20 * time.Millisecond, Poll: 5 * time.Millisecond, Registerer: reg})
	h := promhttp.InstrumentMetricHandler(reg, sh)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sh.Run(ctx)
	for range 3 {
		get(t, h, "/metrics", nil)
	}
	testutil.WaitFor(t, "the scrapes counted", func() bool {
		return strings.Contains(body(t, get(t, h, "/metrics", nil)), `promhttp_metric_handler_requests_total{code="200"} `)
	})
	testutil.WaitFor(t, "at least 3 scrapes counted", func() bool {
		got := body(t, get(t, h, "/metrics", nil))
		return !strings.Contains(got, `promhttp_metric_handler_requests_total{code="200"} 0`) &&
			!strings.Contains(got, `promhttp_metric_handler_requests_total{code="200"} 1`) &&
			!strings.Contains(got, `promhttp_metric_handler_requests_total{code="200"} 2`)
	})
	got := body(t, get(t, h, "/metrics", nil))
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "promhttp_metric_handler_requests_in_flight", "promhttp_metric_handler_errors_total"} {
		if !strings.Contains(got, "\n"+name) {
			t.Errorf("%s is not served", name)
		}
	}
}

type failingCollector struct{}

func (failingCollector) Describe(chan<- *prometheus.Desc) {}
func (failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("bad", "Fails.", nil, nil), errors.New("boom"))
}

// TestScrapeHandlerGatherError: a collector failing keeps the rest of the
// scrape and counts the error.
func TestScrapeHandlerGatherError(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ok", Help: "Fine."}, func() float64 { return 1 }))
	reg.MustRegister(failingCollector{})
	h := NewScrapeHandler(reg, nil, ScrapeOpts{Registerer: reg})
	h.Render() // the second render serves the error count of the first
	resp := get(t, h, "/metrics", nil)
	got := body(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(got, "\nok 1\n") || !strings.Contains(got, `promhttp_metric_handler_errors_total{cause="gathering"} 1`) {
		t.Errorf("status %d:\n%s", resp.StatusCode, got)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"GZIP":                  true,
		"deflate, gzip;q=1.0":   true,
		"gzip;q=0":              false,
		"gzip; q=0.0, identity": false,
		"*":                     true,
		"*;q=0":                 false,
		"identity":              false,
		"br, zstd":              false,
		"*, gzip;q=0":           false,
		"x-gzip":                true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

// benchCaptures are eight attack recordings of the real-tool corpus: eight
// interfaces with verdicts, active attacks and their sources.
var benchCaptures = []string{
	"brute_force-ssh-t4", "port_scan-syn-fast-5000", "syn_flood-spoofed-random", "dns_amplification-txt-4-reflectors",
	"http_flood-many-sources", "icmp_flood-fast", "slowloris-headers-300", "dns_tunnel-fast-null",
}

// benchRegistry builds the exporter's registry as serve does, over eight
// pipelines that replayed the captures (top-k 10, five attack sources,
// detector on). With replaying, the eighth instead replays a busy capture
// in a loop as fast as it can, without the detector, until ctx is done:
// a window closes every few milliseconds and the process is busy.
func benchRegistry(ctx context.Context, b *testing.B, replaying bool) (*prometheus.Registry, []*pipeline.Pipeline) {
	var ps []*pipeline.Pipeline
	for i, name := range benchCaptures {
		if replaying && i == len(benchCaptures)-1 {
			src, err := capture.OpenFile(capture.FileConfig{Path: "../test/corpus/testdata/benign-busy-hour.pcap.gz", Loop: true}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: "replay", Features: features.DefaultConfig(), Lossless: true}, src, slog.New(slog.DiscardHandler))
			go p.Run(ctx)
			for p.Snapshot().Window == nil {
				time.Sleep(time.Millisecond)
			}
			ps = append(ps, p)
			continue
		}
		cfg := detector.DefaultConfig()
		cfg.Warmup, cfg.Synchronous = 6, true
		ps = append(ps, filePipeline(b, name, "../test/corpus/testdata/"+name+".pcap.gz", detector.New(cfg, name, nil)))
	}
	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyTruncate, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewExporter(ps, anon, 5),
		versioncollector.NewCollector("netanomaly"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg, ps
}

// BenchmarkScrapeParallel: 20 scrapers at once against an HTTP server of
// the exporter's registry over 8 interfaces, asking as Prometheus does
// (OpenMetrics preferred, gzip), with the pipelines stopped or one of
// them replaying as fast as it can. "old" is promhttp.HandlerFor,
// gathering per scrape (the handler before pre-rendering); "snapshot"
// serves the pre-rendered bytes while the renderer runs at its default
// pace. Latency is from sending the request to the last byte read;
// cpu-us/scrape is the process's CPU time (scrapers, server, renderer) per
// scrape, which what else runs on the machine does not change; "constant"
// writes a fixed body of the same size, the floor of HTTP and scrapers.
func BenchmarkScrapeParallel(b *testing.B) {
	for _, pipelines := range []string{"stopped", "replaying"} {
		b.Run(pipelines, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reg, ps := benchRegistry(ctx, b, pipelines == "replaying")
			n, _ := seriesCount(reg)
			cpu := pipelines == "stopped" // else the replay's CPU counts too
			b.Run("old", func(b *testing.B) {
				h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
				benchScrapes(b, h, n, cpu)
			})
			b.Run("snapshot", func(b *testing.B) {
				sh := NewScrapeHandler(reg, ps, ScrapeOpts{Registerer: reg})
				h := promhttp.InstrumentMetricHandler(reg, sh)
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				go sh.Run(ctx)
				benchScrapes(b, h, n, cpu)
			})
			if pipelines == "stopped" {
				// The floor: HTTP alone, a constant body of the same size.
				b.Run("constant", func(b *testing.B) {
					sh := NewScrapeHandler(reg, ps, ScrapeOpts{})
					body := sh.cur.Load().body(fmtOpenMetrics, encGzip)
					benchScrapes(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
						w.Header().Set("Content-Type", renderedContentTypes[expfmt.FmtOpenMetrics_1_0_0])
						w.Header().Set("Content-Encoding", "gzip")
						_, _ = w.Write(body)
					}), n, cpu)
				})
			}
		})
	}
}

func seriesCount(g prometheus.Gatherer) (int, error) {
	mfs, err := g.Gather()
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n, err
}

const scrapers = 20

func benchScrapes(b *testing.B, h http.Handler, series int, cpu bool) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: scrapers, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	lat := make([][]time.Duration, scrapers)
	var size atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testutil.ProcessCPU()
	var wg sync.WaitGroup
	for w := range scrapers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				req.Header.Set("Accept", prometheusAccept)
				req.Header.Set("Accept-Encoding", "gzip")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				k, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Errorf("status %d, err %v", resp.StatusCode, err)
					return
				}
				size.Store(k)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if used := testutil.ProcessCPU() - cpu0; cpu && used > 0 {
		// CPU per scrape, server and client (and the renderer): unlike
		// latency, it does not depend on what else the machine runs.
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-us/scrape")
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(size.Load()), "gzip-bytes")
}

// BenchmarkRender is the cost of one render with the variants encoded
// ahead at start: gather, encode text and OpenMetrics, gzip both. With
// only Prometheus scraping, the text format drops out after keepVariant.
func BenchmarkRender(b *testing.B) {
	reg, ps := benchRegistry(context.Background(), b, false)
	sh := NewScrapeHandler(reg, ps, ScrapeOpts{})
	b.ReportAllocs()
	for b.Loop() {
		sh.Render()
	}
}

// BenchmarkScrapeHandler is the handler alone, without HTTP.
func BenchmarkScrapeHandler(b *testing.B) {
	reg, ps := benchRegistry(context.Background(), b, false)
	sh := NewScrapeHandler(reg, ps, ScrapeOpts{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", prometheusAccept)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sh.ServeHTTP(discardWriter{h: http.Header{}}, req)
		}
	})
}

type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w discardWriter) WriteHeader(int)             {}
