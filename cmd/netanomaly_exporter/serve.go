package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/netanomaly/netanomaly_exporter/collector"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/config"
)

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
	store := detector.NewModelStore(o.modelFile, o.window.Window, logger)
	loadOK := 1.0
	if o.detectorOn && !store.Load() {
		loadOK = 0
	}

	if len(sources) == 1 && sources[0].demo != nil && !o.attackSourcesSet {
		o.attackSources = demoAttackSources
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
		cfg := pipeline.PipelineConfig{Interface: s.name, Features: o.window, Lossless: s.lossless, Reopen: s.reopen, Workers: s.workers, Evidence: evid}
		if o.detectorOn {
			set := store.Set(s.name)
			if set == nil && s.demo != nil {
				// Models from --detector.model-file win; without, the
				// demo's are trained now, in seconds, not in an hour.
				set = trainDemo(o, s.demo.start, logger)
			}
			cfg.Detector = detector.New(o.det, s.name, set)
			if o.modelFile != "" {
				// Saving copies the models first: not for nothing.
				cfg.OnModels = store.Save
			}
			cfg.OnVerdict = func(v *detector.Verdict) {
				detector.LogEvents(logger, v, anon.Addr)
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
					Detector:  detector.New(o.det, s.name, store.Set(s.name+"/"+g)),
					OnModels:  cfg.OnModels,
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
	conf := config.NewReloader(o.configFile, applyConfig)
	reg := prometheus.NewRegistry()
	reg.MustRegister(conf.Collectors()...)
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
	mux.HandleFunc("/-/reload", conf.Handler(logger))
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
		pipeline.RegisterAdmin(mux, ps, logger)
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
					store.Save(p.Interface(), d.Models())
				}
				for _, v := range p.Views() {
					if d := v.Detector(); d != nil && d.Models() != nil {
						store.Save(v.Interface()+"/"+v.Group(), d.Models())
					}
				}
			}
			return nil
		}
	}
}

// reload answers SIGHUP: the web configuration is re-read at every request,
// so a bad one is reported here before it locks clients out; the
// configuration file is reloaded; the models trained so far are written.
func reload(webConfigFile string, conf *config.Reloader, store *detector.ModelStore, logger *slog.Logger) {
	if err := web.Validate(webConfigFile); err != nil {
		logger.Error("SIGHUP: --web.config.file is invalid: requests will fail until it is fixed", "file", webConfigFile, "err", err)
	}
	_ = conf.Reload(logger)
	force.reloadGeo(logger)
	store.Checkpoint()
	logger.Info("SIGHUP: reloaded")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
