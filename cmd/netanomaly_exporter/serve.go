package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/collector"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/config"
)

// modelStore keeps the latest models of every interface and writes them
// to --detector.model-file after each training and on shutdown.
type modelStore struct {
	path   string
	window time.Duration
	logger *slog.Logger
	mu     sync.Mutex
	file   *detector.ModelFile
}

// load reads the model file. A corrupt or mismatched file is set aside and
// the detectors warm up: the exporter still starts.
func (m *modelStore) load() (ok bool) {
	m.file = detector.NewModelFile(m.window, time.Now())
	if m.path == "" {
		return true
	}
	removed, err := detector.RemoveStaleTemps(m.path, time.Now())
	if len(removed) > 0 || err != nil {
		m.logger.Info("removed temporary model files an interrupted save left", "files", removed, "err", err)
	}
	mf, err := detector.LoadModelFile(m.path, m.window)
	switch {
	case errors.Is(err, os.ErrNotExist):
		m.logger.Info("no model file yet: warming up", "file", m.path)
		return true
	case err != nil:
		aside, rerr := detector.SetAside(m.path, time.Now())
		m.logger.Error("cannot use the model file; warming up instead", "file", m.path, "err", err, "kept_as", aside, "rename_err", rerr)
		return false
	}
	m.file = mf
	m.logger.Info("models loaded", "file", m.path, "interfaces", len(mf.Sets))
	return true
}

// set returns the loaded models for an interface (or a host group:
// interface/group), nil to warm up. An interface without models of its
// own starts from the file's default set, a group from the group's
// default (train writes both); a group never starts from an interface's.
func (m *modelStore) set(key string) *detector.ModelSet {
	s := m.file.Set(key)
	if iface, group, ok := strings.Cut(key, "/"); ok {
		s = m.file.GroupSet(iface, group)
	}
	if s != nil {
		if c, err := s.Clone(); err == nil {
			return c
		}
	}
	return nil
}

// save records an interface's new models and writes the file.
func (m *modelStore) save(iface string, set *detector.ModelSet) {
	if m.path == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.file.Sets[iface] = set
	if _, ok := m.file.Sets[detector.DefaultSet]; !ok && !strings.Contains(iface, "/") {
		m.file.Sets[detector.DefaultSet] = set // new interfaces start from it
	}
	m.write("interface", iface, "windows", set.Windows)
}

// checkpoint writes the models trained so far, if any.
func (m *modelStore) checkpoint() {
	if m.path == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.file.Sets) > 0 {
		m.write("interfaces", len(m.file.Sets))
	}
}

// write saves the file; m.mu is held.
func (m *modelStore) write(logArgs ...any) {
	m.file.Created = time.Now()
	if err := m.file.Save(m.path); err != nil {
		m.logger.Error("cannot save the models", "file", m.path, "err", err)
		return
	}
	m.logger.Info("models saved", append([]any{"file", m.path}, logArgs...)...)
}

func serve(o options, webConfig *web.FlagConfig, logger *slog.Logger) error {
	anon, err := anonymizer(o, logger)
	if err != nil {
		return usageError{err}
	}
	sources, err := openSources(o, logger, false)
	if err != nil {
		return err
	}
	var events *detector.EventLog
	if o.eventsFile != "" {
		if events, err = detector.OpenEventLog(detector.EventLogConfig{Path: o.eventsFile, Format: o.eventsFormat, MaxBytes: int64(o.eventsSize), Keep: o.eventsKeep}, anon.Addr); err != nil {
			return err
		}
		defer func() { _ = events.Close() }()
	}
	store := &modelStore{path: o.modelFile, window: o.window.Window, logger: logger}
	loadOK := 1.0
	if o.detectorOn && !store.load() {
		loadOK = 0
	}

	if len(sources) == 1 && sources[0].name == demoName && o.det.Warmup == int(time.Hour/o.window.Window) {
		// The demo should show verdicts within minutes, not after an hour.
		o.det.Warmup = int(2 * time.Minute / o.window.Window)
		logger.Info("demo: warming the detector up for 2 minutes instead of an hour")
	}
	// SIGINT and SIGTERM save the models and exit; SIGHUP re-reads what
	// can be re-read and saves the models.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	evid, err := openEvidence(o, anon, logger)
	if err != nil {
		return err
	}
	o.window.FlowExport = force.flowExport(o.config, anon)
	force.serve(o.config, logger)
	go force.watchGeo(ctx, logger)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		force.close(ctx)
	}()
	ps := make([]*pipeline.Pipeline, 0, len(sources))
	for _, s := range sources {
		cfg := pipeline.PipelineConfig{Interface: s.name, Features: o.window, Lossless: s.lossless, Reopen: s.reopen, Evidence: evid}
		if o.detectorOn {
			cfg.Detector = detector.New(o.det, s.name, store.set(s.name))
			cfg.OnModels = store.save
			cfg.OnVerdict = func(v *detector.Verdict) {
				logEvents(logger, v, anon)
				if events == nil && o.configFile == "" {
					return
				}
				recs := detector.EventRecords(v, anon.Addr)
				if err := events.RecordJSON(recs); err != nil {
					logger.Error("cannot write the event log", "err", err)
				}
				force.events(recs)
			}
		}
		if o.detectorOn && o.config != nil && o.config.Groups != nil {
			cfg.Groups = o.config.Groups
			for _, g := range o.config.Groups.Names() {
				cfg.GroupViews = append(cfg.GroupViews, pipeline.GroupConfig{
					Detector:  detector.New(o.det, s.name, store.set(s.name+"/"+g)),
					OnModels:  store.save,
					OnVerdict: cfg.OnVerdict,
				})
			}
		}
		p := pipeline.NewPipeline(cfg, s.src, logger)
		ps = append(ps, p)
		go p.Run(ctx)
	}

	force.mu.Lock()
	force.pipelines = ps
	force.mu.Unlock()
	conf := newConfigState(o.configFile)
	reg := prometheus.NewRegistry()
	reg.MustRegister(conf.collectors()...)
	reg.MustRegister(force)
	reg.MustRegister(
		collector.NewExporter(ps, anon, o.attackSources),
		versioncollector.NewCollector("netanomaly"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if o.detectorOn {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "netanomaly", Subsystem: "detector", Name: "model_load_success",
			Help: "Whether the model file loaded at start (1), or could not be used and was set aside (0).",
		}, func() float64 { return loadOK }))
	}
	mux := http.NewServeMux()
	// Scrapes are served from bytes rendered at window close and every
	// second, not per scrape (collector/scrape.go).
	scrapes := collector.NewScrapeHandler(reg, ps, collector.ScrapeOpts{Logger: logger, Registerer: reg})
	go scrapes.Run(ctx)
	mux.Handle(o.metricsPath, promhttp.InstrumentMetricHandler(reg, scrapes))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Healthy\n") })
	mux.HandleFunc("/-/reload", conf.handleReload(logger))
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Ready\n") })
	links := []web.LandingLinks{{Address: o.metricsPath, Text: "Metrics"}, {Address: "/-/healthy", Text: "Health"}}
	if o.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if o.adminAPI {
		registerAdmin(mux, ps, logger)
	}
	if o.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "netanomaly_exporter",
			Description: "Network traffic features and anomaly detection for Prometheus",
			Version:     version.Info(),
			Links:       links,
			Profiling:   strconv.FormatBool(o.pprof),
		})
		if err != nil {
			return fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, webConfig, logger) }()
	logger.Info("netanomaly_exporter started", "version", version.Info(), "sources", len(ps), "detector", o.detectorOn, "privileges", o.privileges)
	for {
		select {
		case err := <-errc:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		case <-hup:
			reload(*webConfig.WebConfigFile, conf, store, logger)
		case <-ctx.Done():
			logger.Info("shutting down")
			_ = srv.Close()
			for _, p := range ps {
				<-p.Done()
			}
			// The pipelines have stopped: their models are safe to read.
			for _, p := range ps {
				if d := p.Detector(); d != nil && d.Models() != nil {
					store.save(p.Interface(), d.Models())
				}
				for _, v := range p.Views() {
					if d := v.Detector(); d != nil && d.Models() != nil {
						store.save(v.Interface()+"/"+v.Group(), d.Models())
					}
				}
			}
			return nil
		}
	}
}

// logEvents logs each attack start and end of a verdict, one line each,
// addresses as --privacy.ip says.
func logEvents(logger *slog.Logger, v *detector.Verdict, anon *pipeline.Anonymizer) {
	for _, e := range v.Events {
		args := []any{"interface", v.Interface, "type", e.Attack.Type, "confidence", math.Round(e.Attack.Confidence*100) / 100}
		if v.Group != "" {
			args = append(args, "group", v.Group)
		}
		addrs := func(as [][16]byte) []string {
			out := make([]string, len(as))
			for i, a := range as {
				out[i] = anon.Addr(a)
			}
			return out
		}
		args = append(args, "sources", addrs(e.Attack.Sources), "targets", addrs(e.Attack.Targets), "summary", e.Attack.Summary)
		msg := "attack started"
		if e.Kind == "attack_end" {
			msg = "attack ended"
		}
		logger.Info(msg, args...)
	}
}

// reload answers SIGHUP: the web configuration is re-read at every request,
// so a bad one is reported here before it locks clients out; the
// configuration file is reloaded; the models trained so far are written.
func reload(webConfigFile string, conf *configState, store *modelStore, logger *slog.Logger) {
	if err := web.Validate(webConfigFile); err != nil {
		logger.Error("SIGHUP: --web.config.file is invalid: requests will fail until it is fixed", "file", webConfigFile, "err", err)
	}
	_ = conf.reload(logger)
	force.reloadGeo(logger)
	store.checkpoint()
	logger.Info("SIGHUP: reloaded")
}

// configState reloads --config.file and reports how the last reload went.
type configState struct {
	path string
	mu   sync.Mutex
	ok   bool
	at   time.Time // of the last successful load
}

func newConfigState(path string) *configState {
	return &configState{path: path, ok: true, at: time.Now()}
}

// reload re-reads the configuration file and puts it in force; a file
// with problems leaves the running configuration in force.
func (c *configState) reload(logger *slog.Logger) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" {
		c.ok, c.at = true, time.Now()
		return nil
	}
	cfg, err := config.Load(c.path, config.Options{Logger: logger})
	if err != nil {
		c.ok = false
		logger.Error("the configuration file has problems: the running configuration stays in force", "file", c.path, "err", err)
		return err
	}
	applyConfig(cfg)
	c.ok, c.at = true, time.Now()
	logger.Info("configuration reloaded", "file", c.path, "user_rules", len(cfg.Rules))
	return nil
}

func (c *configState) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "netanomaly", Subsystem: "config", Name: "last_reload_successful",
			Help: "Whether the last load of --config.file succeeded (1) or left the previous configuration in force (0).",
		}, func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			return b2f(c.ok)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "netanomaly", Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
			Help: "When --config.file was last loaded successfully, in Unix seconds.",
		}, func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			return float64(c.at.UnixNano()) / 1e9
		}),
	}
}

// handleReload is POST /-/reload, as Prometheus has it.
func (c *configState) handleReload(logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST or PUT", http.StatusMethodNotAllowed)
			return
		}
		if err := c.reload(logger); err != nil {
			http.Error(w, "the configuration file has problems; the running configuration stays in force:\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "configuration reloaded\n")
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// adminHeader is the custom header that, like a JSON content type, marks
// an admin call as not from a cross-site browser form.
const adminHeader = "X-Netanomaly-Admin"

// adminAuthenticated tells whether the web configuration file asks every
// client for credentials: basic auth users, or verified client
// certificates.
func adminAuthenticated(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var c web.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return false, err
	}
	return len(c.Users) > 0 || c.TLSConfig.ClientAuth == "RequireAndVerifyClientCert", nil
}

// registerAdmin adds the admin API. It sits behind the same TLS and basic
// auth as /metrics (exporter-toolkit wraps the whole mux).
func registerAdmin(mux *http.ServeMux, ps []*pipeline.Pipeline, logger *slog.Logger) {
	byName := map[string]*pipeline.Pipeline{}
	for _, p := range ps {
		byName[p.Interface()] = p
	}
	// pick returns the pipelines an admin call names: ?interface=X, or all.
	pick := func(w http.ResponseWriter, r *http.Request) ([]*pipeline.Pipeline, bool) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return nil, false
		}
		// A browser sends a cross-site form or text/plain POST without
		// asking; JSON or a custom header needs a preflight we never answer.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && r.Header.Get(adminHeader) == "" {
			http.Error(w, "send Content-Type: application/json or an "+adminHeader+" header", http.StatusUnsupportedMediaType)
			return nil, false
		}
		name := r.URL.Query().Get("interface")
		if name == "" {
			return ps, true
		}
		p, ok := byName[name]
		if !ok {
			http.Error(w, fmt.Sprintf("no interface %q", name), http.StatusNotFound)
			return nil, false
		}
		return []*pipeline.Pipeline{p}, true
	}
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/api/v1/admin/retrain", func(w http.ResponseWriter, r *http.Request) {
		sel, ok := pick(w, r)
		if !ok {
			return
		}
		var done []string
		for _, p := range sel {
			if d := p.Detector(); d != nil {
				d.RequestRetrain()
				done = append(done, p.Interface())
			}
		}
		logger.Info("retrain requested through the admin API", "interfaces", done)
		reply(w, map[string]any{"status": "retraining at the next window", "interfaces": done})
	})
	capture := func(start bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			sel, ok := pick(w, r)
			if !ok {
				return
			}
			var done []string
			for _, p := range sel {
				if start {
					p.StartCapture()
				} else if err := p.StopCapture(); err != nil {
					http.Error(w, fmt.Sprintf("%s: %v", p.Interface(), err), http.StatusConflict)
					return
				}
				done = append(done, p.Interface())
			}
			logger.Info("capture changed through the admin API", "start", start, "interfaces", done)
			reply(w, map[string]any{"capturing": start, "interfaces": done})
		}
	}
	mux.HandleFunc("/api/v1/admin/capture/stop", capture(false))
	mux.HandleFunc("/api/v1/admin/capture/start", capture(true))
}
