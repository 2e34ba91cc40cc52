// Command netanomaly_exporter captures packets, computes traffic features
// per interface and window, and serves them to Prometheus.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/netanomaly/netanomaly_exporter/collector"
	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

//go:embed demo/wikipedia.pcap
var demoCapture []byte

const demoName = "demo"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options holds every flag value.
type options struct {
	interfaces  []string
	method      string
	filter      string
	snaplen     int
	promisc     bool
	buffer      units.Base2Bytes
	listIfaces  bool
	pcaps       []string
	speed       float64
	loop        bool
	window      features.Config
	topK        int
	privacy     string
	privacyKey  string
	metricsPath string
}

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("netanomaly_exporter", "Prometheus exporter that captures packets and reports traffic features per interface and window.")
	app.Writer(stderr)
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	var o options
	o.window = features.DefaultConfig()

	app.Flag("capture.interface", "Interface to capture on (repeatable; 'any' for all). Each interface is its own pipeline and 'interface' label.").StringsVar(&o.interfaces)
	app.Flag("capture.method", "Live capture method: afpacket (Linux TPACKET_V3) or pcap (libpcap, loaded at run time).").Default(defaultMethod()).EnumVar(&o.method, capture.MethodAFPacket, capture.MethodPcap)
	app.Flag("capture.filter", "BPF filter expression (tcpdump syntax), compiled with libpcap and applied in the kernel.").Default("").StringVar(&o.filter)
	app.Flag("capture.snaplen", "Bytes captured per packet; the default keeps every header.").Default("256").IntVar(&o.snaplen)
	app.Flag("capture.promiscuous", "Put the interfaces in promiscuous mode (needs CAP_NET_ADMIN).").Default("false").BoolVar(&o.promisc)
	app.Flag("capture.buffer-size", "Kernel ring (afpacket) or capture buffer (pcap) size per interface.").Default("32MiB").BytesVar(&o.buffer)
	app.Flag("capture.list-interfaces", "List the capturable interfaces and exit.").Default("false").BoolVar(&o.listIfaces)
	app.Flag("capture.pcap", "Replay a pcap or pcapng file (gzip allowed) instead of capturing live (repeatable).").StringsVar(&o.pcaps)
	app.Flag("capture.pcap.speed", "Replay speed: 1 = real time, 0 = as fast as possible.").Default("1").Float64Var(&o.speed)
	app.Flag("capture.pcap.loop", "Replay the capture files in a loop.").Default("false").BoolVar(&o.loop)
	app.Flag("window.length", "Feature window length, cut on packet timestamps.").Default(o.window.Window.String()).DurationVar(&o.window.Window)
	app.Flag("flows.max", "Flow table capacity per interface; a full table evicts its oldest flows.").Default(fmt.Sprint(o.window.FlowsMax)).IntVar(&o.window.FlowsMax)
	app.Flag("flows.idle-timeout", "A flow without packets for this long ends.").Default(o.window.FlowIdle.String()).DurationVar(&o.window.FlowIdle)
	app.Flag("flows.active-timeout", "A flow older than this ends.").Default(o.window.FlowActive.String()).DurationVar(&o.window.FlowActive)
	app.Flag("features.top-k", fmt.Sprintf("Export the top K sources and destinations by bytes as labelled series (0 = off, at most %d).", features.MaxTopK)).Default("0").IntVar(&o.topK)
	app.Flag("privacy.ip", "How addresses appear in labels and logs: full, truncate (/24, /48) or hash (HMAC-SHA256).").Default(collector.PrivacyFull).EnumVar(&o.privacy, collector.PrivacyFull, collector.PrivacyTruncate, collector.PrivacyHash)
	app.Flag("privacy.hash-key-file", "File holding the secret key for --privacy.ip=hash.").Default("").StringVar(&o.privacyKey)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.metricsPath)
	webConfig := kingpinflag.AddFlags(app, ":9957")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print("netanomaly_exporter"))
	app.HelpFlag.Short('h')

	serveCmd := app.Command("serve", "Capture and serve metrics (the default).").Default()
	replayCmd := app.Command("replay", "Replay --capture.pcap files as fast as possible, print the final metrics in the Prometheus text format and exit.")

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %s%v; try --help\n", flagOf(args, err), err)
		return 2
	}
	logConfig.Writer = stderr
	logger := promslog.New(logConfig)

	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
		return 2
	}
	if o.listIfaces {
		return listInterfaces(stdout, stderr)
	}
	switch cmd {
	case replayCmd.FullCommand():
		return replay(o, logger, stdout, stderr)
	case serveCmd.FullCommand():
		return serve(o, webConfig, logger, stderr)
	}
	return 2
}

// flagOf names the flag whose value an error quotes, since kingpin's value
// errors ("time: invalid duration \"abc\"") do not say which flag it was.
func flagOf(args []string, err error) string {
	msg := err.Error()
	for i, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, value, ok := strings.Cut(a, "=")
		if !ok && i+1 < len(args) {
			value = args[i+1]
		}
		if value != "" && (strings.Contains(msg, `"`+value+`"`) || strings.Contains(msg, "'"+value+"'")) {
			return name + ": "
		}
	}
	return ""
}

func defaultMethod() string {
	if isLinux() {
		return capture.MethodAFPacket
	}
	return capture.MethodPcap
}

func (o *options) validate() error {
	switch {
	case o.window.Window < 1e9:
		return fmt.Errorf("--window.length=%v is too short: use at least 1s", o.window.Window)
	case o.window.FlowsMax < 16 || o.window.FlowsMax > 1<<24:
		return fmt.Errorf("--flows.max=%d out of range: use 16 to 16777216", o.window.FlowsMax)
	case o.window.FlowIdle <= 0 || o.window.FlowActive <= 0:
		return errors.New("--flows.idle-timeout and --flows.active-timeout must be positive")
	case o.topK < 0 || o.topK > features.MaxTopK:
		return fmt.Errorf("--features.top-k=%d out of range: use 0 (off) to %d", o.topK, features.MaxTopK)
	case o.speed < 0:
		return fmt.Errorf("--capture.pcap.speed=%v is negative: use 1 for real time or 0 for as fast as possible", o.speed)
	case o.snaplen < 64 || o.snaplen > 262144:
		return fmt.Errorf("--capture.snaplen=%d out of range: use 64 to 262144", o.snaplen)
	case len(o.interfaces) > 0 && len(o.pcaps) > 0:
		return errors.New("--capture.interface and --capture.pcap cannot be combined: run one exporter per source")
	case !strings.HasPrefix(o.metricsPath, "/"):
		return fmt.Errorf("--web.telemetry-path=%q must start with /", o.metricsPath)
	}
	o.window.TopK = o.topK
	return nil
}

func listInterfaces(stdout, stderr io.Writer) int {
	ifs, err := capture.ListInterfaces()
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
		return 1
	}
	for _, i := range ifs {
		state := "down"
		if i.Up {
			state = "up"
		}
		fmt.Fprintf(stdout, "%-16s %-4s link=%-3d %s\n", i.Name, state, i.LinkType, strings.Join(i.Addrs, " "))
	}
	return 0
}

// source is an opened source with its label and how to reopen it.
type source struct {
	name     string
	src      capture.Source
	lossless bool
	reopen   collector.Opener
}

// openSources opens every source before anything starts, so that a bad
// flag or a missing file leaves nothing half-started.
func openSources(o options, logger *slog.Logger, replay bool) ([]source, error) {
	var out []source
	closeAll := func() {
		for _, s := range out {
			_ = s.src.Close()
		}
	}
	speed, loop := o.speed, o.loop
	if replay {
		speed, loop = 0, false
	}
	pcaps := o.pcaps
	if len(pcaps) == 0 && len(o.interfaces) == 0 {
		if replay {
			return nil, errors.New("replay needs --capture.pcap=FILE")
		}
		logger.Info("no --capture.interface or --capture.pcap given: replaying the embedded demo capture in a loop")
		src, err := capture.OpenFile(capture.FileConfig{Path: "embedded demo capture", Data: demoCapture, Speed: 1, Loop: true}, logger)
		if err != nil {
			return nil, err
		}
		return []source{{name: demoName, src: src, lossless: true}}, nil
	}
	seen := map[string]bool{}
	for _, path := range pcaps {
		src, err := capture.OpenFile(capture.FileConfig{Path: path, Speed: speed, Loop: loop}, logger)
		if err != nil {
			closeAll()
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		for base, i := name, 2; seen[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		seen[name] = true
		out = append(out, source{name: name, src: src, lossless: true})
	}
	for _, iface := range o.interfaces {
		if seen[iface] {
			closeAll()
			return nil, fmt.Errorf("--capture.interface=%s given twice", iface)
		}
		seen[iface] = true
		cfg := capture.LiveConfig{Interface: iface, Method: o.method, Filter: o.filter, Snaplen: o.snaplen, Promiscuous: o.promisc, BufferBytes: int(o.buffer)}
		src, err := capture.OpenLive(cfg)
		if err != nil {
			closeAll()
			return nil, err
		}
		out = append(out, source{name: iface, src: src, reopen: func() (capture.Source, error) { return capture.OpenLive(cfg) }})
	}
	return out, nil
}

func anonymizer(o options) (*collector.Anonymizer, error) {
	var key []byte
	if o.privacyKey != "" {
		b, err := os.ReadFile(o.privacyKey)
		if err != nil {
			return nil, fmt.Errorf("read --privacy.hash-key-file: %w", err)
		}
		key = []byte(strings.TrimSpace(string(b)))
	}
	return collector.NewAnonymizer(o.privacy, key)
}

func startPipelines(ctx context.Context, sources []source, o options, logger *slog.Logger) []*collector.Pipeline {
	ps := make([]*collector.Pipeline, 0, len(sources))
	for _, s := range sources {
		p := collector.NewPipeline(collector.PipelineConfig{
			Interface: s.name,
			Features:  o.window,
			Lossless:  s.lossless,
			Reopen:    s.reopen,
		}, s.src, logger)
		ps = append(ps, p)
		go p.Run(ctx)
	}
	return ps
}

func replay(o options, logger *slog.Logger, stdout, stderr io.Writer) int {
	anon, err := anonymizer(o)
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
		return 2
	}
	sources, err := openSources(o, logger, true)
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
		return 1
	}
	ps := startPipelines(context.Background(), sources, o, logger)
	for _, p := range ps {
		<-p.Done()
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector.NewExporter(ps, anon), versioncollector.NewCollector("netanomaly"))
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: gather metrics: %v\n", err)
		return 1
	}
	enc := expfmt.NewEncoder(stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			fmt.Fprintf(stderr, "netanomaly_exporter: error: write metrics: %v\n", err)
			return 1
		}
	}
	return 0
}

func serve(o options, webConfig *web.FlagConfig, logger *slog.Logger, stderr io.Writer) int {
	anon, err := anonymizer(o)
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
		return 2
	}
	sources, err := openSources(o, logger, false)
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ps := startPipelines(ctx, sources, o, logger)

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collector.NewExporter(ps, anon),
		versioncollector.NewCollector("netanomaly"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle(o.metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError), ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Healthy\n") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "Ready\n") })
	if o.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "netanomaly_exporter",
			Description: "Network traffic features and anomaly detection for Prometheus",
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: o.metricsPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
			},
		})
		if err != nil {
			fmt.Fprintf(stderr, "netanomaly_exporter: error: landing page: %v\n", err)
			return 1
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{Handler: mux}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, webConfig, logger) }()
	logger.Info("netanomaly_exporter started", "version", version.Info(), "sources", len(ps))
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server failed", "err", err)
			return 1
		}
	case <-ctx.Done():
		logger.Info("shutting down")
		_ = srv.Close()
		for _, p := range ps {
			<-p.Done()
		}
	}
	return 0
}
