// Command netanomaly_exporter captures packets, computes traffic features
// per interface and window, and serves them to Prometheus.
package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/config"
	"github.com/netanomaly/netanomaly_exporter/internal/geoip"
	"github.com/netanomaly/netanomaly_exporter/internal/privilege"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options holds every flag value.
type options struct {
	interfaces  []string
	method      string
	filter      string
	snaplen     int
	promisc     bool
	buffer      units.Base2Bytes
	workers     int
	listIfaces  bool
	pcaps       []string
	speed       float64
	loop        bool
	window      features.Config
	topK        int
	privacy     string
	privacyKey  string
	metricsPath string
	adminAPI    bool
	pprof       bool
	adminNoAuth bool
	user        string
	dropCaps    bool
	privileges  string // what the drop left, for the start log line

	detectorOn    bool
	warmup        time.Duration
	horizon       time.Duration
	retrain       time.Duration
	contamination float64
	members       string
	seed          uint64
	modelFile     string
	allow         []string
	endAfter      int
	attackSources int
	// attackSourcesSet says --detector.attack-sources was given: the
	// demo names its attackers in labels unless told not to.
	attackSourcesSet bool

	configFile string
	geoipFile  string
	config     *config.Config // loaded by run, nil without --config.file

	eventsFile   string
	eventsFormat string
	eventsSize   units.Base2Bytes
	eventsKeep   int

	labels   string
	verdicts string
	format   string

	det detector.Config // built by validate
}

// maxAttackSources caps --detector.attack-sources: each is a labelled series.
const maxAttackSources = 5

// maxHorizonWindows bounds --detector.horizon: the detector keeps every
// window of its horizon's behaviour (under a random-source flood about
// 1.6 MB each, per interface), so an hour at the default window length.
const maxHorizonWindows = 360

// init takes the version from the module's build information when the
// build did not set it (go run, go build, go install): a release or a
// pseudo-version with the commit, rather than nothing.
func init() {
	if version.Version != "" {
		return
	}
	version.Version = "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version.Version = strings.TrimPrefix(bi.Main.Version, "v")
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("netanomaly_exporter", "Prometheus exporter that captures packets, reports traffic features per interface and window, and detects anomalies and attacks.")
	app.Writer(stderr)
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	var o options
	o.window = features.DefaultConfig()
	def := detector.DefaultConfig()

	app.Flag("capture.interface", "Interface to capture on (repeatable; 'any' for all). Each interface is its own pipeline and 'interface' label.").StringsVar(&o.interfaces)
	app.Flag("capture.method", "Live capture method: afpacket (Linux TPACKET_V3) or pcap (libpcap, loaded at run time).").Default(defaultMethod()).EnumVar(&o.method, capture.MethodAFPacket, capture.MethodPcap)
	app.Flag("capture.filter", "BPF filter expression (tcpdump syntax), compiled with libpcap and applied in the kernel.").Default("").StringVar(&o.filter)
	app.Flag("capture.snaplen", "Bytes captured per packet; the default keeps every header.").Default("256").IntVar(&o.snaplen)
	app.Flag("capture.promiscuous", "Put the interfaces in promiscuous mode (needs CAP_NET_ADMIN).").Default("false").BoolVar(&o.promisc)
	app.Flag("capture.buffer-size", "Kernel ring (afpacket) or capture buffer (pcap) size per interface, shared by its capture workers.").Default("32MiB").BytesVar(&o.buffer)
	app.Flag("capture.workers", "Capture workers per live interface with afpacket: each reads and decodes its own ring of an AF_PACKET fanout group (flows spread by hash); the feature stage merges them in time order (it stays one goroutine: more workers help only where capture, not features, is the limit). 0 = one per CPU, at most 4.").Default("1").IntVar(&o.workers)
	app.Flag("capture.list-interfaces", "List the capturable interfaces and exit.").Default("false").BoolVar(&o.listIfaces)
	app.Flag("capture.pcap", "Replay a pcap or pcapng file (gzip allowed) instead of capturing live (repeatable). Without any source the exporter runs its demo: a synthesized network under attack.").StringsVar(&o.pcaps)
	app.Flag("capture.pcap.speed", "Replay speed of the files and the demo: 1 = real time, 0 = as fast as possible (files only).").Default("1").Float64Var(&o.speed)
	app.Flag("capture.pcap.loop", "Replay the capture files in a loop.").Default("false").BoolVar(&o.loop)
	app.Flag("window.length", "Feature window length, cut on packet timestamps.").Default(o.window.Window.String()).DurationVar(&o.window.Window)
	app.Flag("flows.max", "Flow table capacity per interface; a full table evicts its oldest flows.").Default(fmt.Sprint(o.window.FlowsMax)).IntVar(&o.window.FlowsMax)
	app.Flag("flows.idle-timeout", "A flow without packets for this long ends.").Default(o.window.FlowIdle.String()).DurationVar(&o.window.FlowIdle)
	app.Flag("flows.active-timeout", "A flow older than this ends.").Default(o.window.FlowActive.String()).DurationVar(&o.window.FlowActive)
	app.Flag("features.top-k", fmt.Sprintf("Export the top K sources and destinations by bytes as labelled series (0 = off, at most %d).", features.MaxTopK)).Default("0").IntVar(&o.topK)
	app.Flag("privacy.ip", "How addresses appear in labels and logs: full, truncate (/24, /48) or hash (HMAC-SHA256).").Default(pipeline.PrivacyFull).EnumVar(&o.privacy, pipeline.PrivacyFull, pipeline.PrivacyTruncate, pipeline.PrivacyHash)
	app.Flag("privacy.hash-key-file", "File holding the secret key for --privacy.ip=hash.").Default("").StringVar(&o.privacyKey)
	app.Flag("detector.enable", "Score every window with the model ensemble and the attack rules.").Default("true").BoolVar(&o.detectorOn)
	app.Flag("detector.warmup", "Traffic observed before the first training of the models; the behaviour rules judge from the first window.").Default("1h").DurationVar(&o.warmup)
	app.Flag("detector.horizon", "How long each host's behaviour adds up over (slow scans, guessers, tunnels), and how long a silent ARP owner keeps its address.").Default("5m").DurationVar(&o.horizon)
	app.Flag("detector.retrain-interval", "Retrain the batch models on recent normal windows this often (0 = never).").Default("6h").DurationVar(&o.retrain)
	app.Flag("detector.contamination", "Expected share of anomalous windows in training traffic; sets the ensemble threshold.").Default(fmt.Sprint(def.Train.Contamination)).Float64Var(&o.contamination)
	app.Flag("detector.models", "Comma-separated ensemble members: "+strings.Join(detector.AllMembers, ",")+".").Default(strings.Join(detector.AllMembers, ",")).StringVar(&o.members)
	app.Flag("detector.seed", "Seed of the models' randomness: same capture, model file and seed give the same verdicts.").Default("1").Uint64Var(&o.seed)
	app.Flag("detector.model-file", "Model file: loaded at start, saved after each training and on shutdown.").Default("").StringVar(&o.modelFile)
	app.Flag("detector.allow", "Never raise attacks from or to this CIDR (repeatable; backups, speed tests, your own scanners).").StringsVar(&o.allow)
	app.Flag("detector.attack-end-windows", "Quiet windows after which an attack ends.").Default(fmt.Sprint(def.EndAfter)).IntVar(&o.endAfter)
	app.Flag("detector.attack-sources", fmt.Sprintf("Export the top N addresses behind each attack in progress as labels (0 = off, at most %d; the demo's default is %d).", maxAttackSources, demoAttackSources)).Default("0").IsSetByUser(&o.attackSourcesSet).IntVar(&o.attackSources)
	app.Flag("config.file", "Configuration file (YAML): user rules and what else flags cannot say; reloaded on SIGHUP and POST /-/reload.").Default("").StringVar(&o.configFile)
	app.Flag("geoip.database", "MaxMind-format country database (GeoLite2-Country or -City, DB-IP lite): count traffic by source country and name attack sources' countries; re-read when it changes.").Default("").StringVar(&o.geoipFile)
	app.Flag("events.file", "Write anomalous windows and attack starts and ends to this file (off when empty).").Default("").StringVar(&o.eventsFile)
	app.Flag("events.format", "Event file format: json (JSON lines) or csv.").Default("json").EnumVar(&o.eventsFormat, "json", "csv")
	app.Flag("events.max-size", "Rotate the event file at this size.").Default("100MiB").BytesVar(&o.eventsSize)
	app.Flag("events.keep", "Rotated event files kept.").Default("5").IntVar(&o.eventsKeep)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.metricsPath)
	app.Flag("web.enable-admin-api", "Enable POST /api/v1/admin/retrain and /api/v1/admin/capture/{stop,start} (JSON content type or an X-Netanomaly-Admin header; needs basic auth or verified client certificates in --web.config.file).").Default("false").BoolVar(&o.adminAPI)
	app.Flag("web.enable-pprof", "Serve Go's profiling endpoints under /debug/pprof/ (behind the web configuration like every path).").Default("false").BoolVar(&o.pprof)
	app.Flag("web.admin-api.allow-unauthenticated", "Allow --web.enable-admin-api without authentication in --web.config.file: anyone who reaches the port can stop the capture.").Default("false").BoolVar(&o.adminNoAuth)
	app.Flag("process.user", "As root, run as this user (name or uid, optionally :group) once started; the capture keeps CAP_NET_RAW.").Default("").StringVar(&o.user)
	app.Flag("process.drop-capabilities", "Keep only the capabilities serving needs (CAP_NET_RAW for live capture, CAP_NET_BIND_SERVICE for a port under 1024), for every thread, by re-executing the binary.").Default("true").BoolVar(&o.dropCaps)
	webConfig := kingpinflag.AddFlags(app, ":9957")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print("netanomaly_exporter"))
	app.HelpFlag.Short('h')

	serveCmd := app.Command("serve", "Capture and serve metrics (the default).").Default()
	replayCmd := app.Command("replay", "Replay --capture.pcap files as fast as possible, print the final metrics in the Prometheus text format and exit.")
	trainCmd := app.Command("train", "Train the detector on --capture.pcap files (benign traffic; windows inside --labels train the supervised forest) and write --detector.model-file.")
	trainCmd.Flag("labels", "Labels CSV (start,end,type,source) of the attacks in the captures.").StringVar(&o.labels)
	evalCmd := app.Command("evaluate", "Replay --capture.pcap files through a trained model and score its verdicts against --labels.")
	evalCmd.Flag("labels", "Labels CSV (start,end,type,source) of the attacks in the captures.").Required().StringVar(&o.labels)
	evalCmd.Flag("verdicts", "Write every window's verdict to this JSON lines file.").StringVar(&o.verdicts)
	evalCmd.Flag("format", "Output format: text or json.").Default("text").EnumVar(&o.format, "text", "json")

	checkCmd := app.Command("check-config", "Check a configuration file and exit: 0 when it is valid, 1 with every problem and its line otherwise.")
	checkFile := checkCmd.Arg("file", "The configuration file (default: --config.file).").String()

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
	if o.geoipFile != "" && cmd != checkCmd.FullCommand() {
		db, err := geoip.Open(o.geoipFile, geoip.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "netanomaly_exporter: error: --geoip.database=%s: %v\n", o.geoipFile, err)
			return 2
		}
		o.window.Countries = db
		force.geo = db
	}
	if cmd == checkCmd.FullCommand() {
		return checkConfig(cmp.Or(*checkFile, o.configFile), stdout, stderr)
	}
	if o.listIfaces {
		return listInterfaces(stdout, stderr)
	}
	if o.configFile != "" {
		// Every command judges with the same rules; serve reloads them.
		if o.config, err = config.Load(o.configFile, config.Options{Logger: logger}); err != nil {
			fmt.Fprintf(stderr, "netanomaly_exporter: error: --config.file:\n%v\n", err)
			return 2
		}
		applyConfig(o.config)
		// The lists may come with a reload: the aggregators ask for them
		// at every packet (an atomic load while there are none).
		o.window.Blocklists = force
	}
	if cmd == serveCmd.FullCommand() {
		if err := checkWeb(o, *webConfig.WebConfigFile, logger); err != nil {
			fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
			return 2
		}
		if o.privileges, err = dropPrivileges(o, *webConfig.WebListenAddresses, logger); err != nil {
			fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
			return 2
		}
	}
	var code int
	switch cmd {
	case replayCmd.FullCommand():
		err = replay(o, logger, stdout)
	case trainCmd.FullCommand():
		err = train(o, logger, stdout)
	case evalCmd.FullCommand():
		code, err = evaluate(o, logger, stdout)
	case serveCmd.FullCommand():
		err = serve(o, webConfig, logger)
	}
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_exporter: error: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		var de damagedError
		if errors.As(err, &de) {
			return damagedExit
		}
		return 1
	}
	return code
}

// checkConfig is the check-config command.
func checkConfig(path string, stdout, stderr io.Writer) int {
	if path == "" {
		fmt.Fprintln(stderr, "netanomaly_exporter: error: check-config needs a file: netanomaly_exporter check-config FILE")
		return 2
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	groups, lists := 0, 0
	if cfg.Groups != nil {
		groups = len(cfg.Groups.Names()) - 1 // other is always there
	}
	if cfg.Blocklists != nil {
		lists = len(cfg.Blocklists.Names())
	}
	var outputs []string
	for name, on := range map[string]bool{"evidence": cfg.Evidence != nil, "syslog": cfg.Syslog != nil, "ipfix": cfg.IPFIX != nil} {
		if on {
			outputs = append(outputs, name)
		}
	}
	slices.Sort(outputs)
	fmt.Fprintf(stdout, "%s: valid: %d host groups, %d user rules, %d built-in types changed, %d blocklists, outputs: %s\n",
		path, groups, len(cfg.Rules), len(cfg.Types), lists, cmp.Or(strings.Join(outputs, ", "), "none"))
	return 0
}

// applyConfig puts a loaded configuration in force.
func applyConfig(cfg *config.Config) { force.apply(cfg) }

// usageError marks errors in how the command was called (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

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
		if value != "" && (strings.Contains(msg, `"`+value+`"`) || strings.Contains(msg, "'"+value+"'") || strings.HasSuffix(msg, " "+value)) {
			return name + ": "
		}
	}
	return ""
}

// checkWeb validates --web.config.file before anything starts, and refuses
// an admin API that anyone could call.
func checkWeb(o options, path string, logger *slog.Logger) error {
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("--web.config.file=%s: %w", path, err)
	}
	if !o.adminAPI {
		return nil
	}
	auth, err := pipeline.AdminAuthenticated(path)
	if err != nil {
		return fmt.Errorf("--web.config.file=%s: %w", path, err)
	}
	switch {
	case auth:
	case o.adminNoAuth:
		logger.Warn("the admin API is enabled without authentication: anyone who reaches the port can stop the capture and retrain", "flag", "--web.admin-api.allow-unauthenticated")
	default:
		return errors.New("--web.enable-admin-api needs authentication: add basic_auth_users (or client_auth_type: RequireAndVerifyClientCert) to --web.config.file, or accept the risk with --web.admin-api.allow-unauthenticated")
	}
	return nil
}

// dropPrivileges keeps only the capabilities serving needs and, with
// --process.user, changes user; it may re-execute the binary. It returns
// what the process runs with after a drop.
func dropPrivileges(o options, listen []string, logger *slog.Logger) (string, error) {
	if !o.dropCaps {
		if o.user != "" {
			return "", errors.New("--process.user needs --process.drop-capabilities")
		}
		return "", nil
	}
	var keep privilege.Set
	if len(o.interfaces) > 0 {
		keep |= privilege.Of(privilege.CapNetRaw)
	}
	for _, a := range listen {
		if _, port, err := net.SplitHostPort(a); err == nil {
			if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 1024 {
				keep |= privilege.Of(privilege.CapNetBindService)
			}
		}
	}
	msg, err := privilege.Drop(privilege.Config{Keep: keep, User: o.user})
	if err == nil && msg == "" {
		msg = "unchanged: nothing to drop"
	}
	if errors.Is(err, privilege.ErrCannotDrop) {
		logger.Warn("running with more privileges than needed", "err", err)
		return "", nil
	}
	return msg, err
}

func defaultMethod() string {
	if isLinux() {
		return capture.MethodAFPacket
	}
	return capture.MethodPcap
}

// Ranges of the numeric flags that have no natural bound of their own.
const (
	maxWindow      = 15 * time.Minute // a verdict slower than this pages too late
	maxTimeout     = 24 * time.Hour
	maxDuration    = 30 * 24 * time.Hour // warm-up and retrain interval
	maxWorkers     = 64
	minBuffer      = 256 << 10
	maxBuffer      = 4 << 30
	minEventsSize  = 64 << 10
	maxEventsSize  = 1 << 40
	maxEventsKeep  = 1000
	maxEndWindows  = maxHorizonWindows
	minReplaySpeed = 0.01
	maxReplaySpeed = 1000
)

func (o *options) validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case o.window.Window < time.Second || o.window.Window > maxWindow:
		return fmt.Errorf("--window.length=%v out of range: use 1s to %v (default 10s)", o.window.Window, maxWindow)
	case o.window.FlowsMax < 16 || o.window.FlowsMax > 1<<24:
		return fmt.Errorf("--flows.max=%d out of range: use 16 to 16777216", o.window.FlowsMax)
	case o.window.FlowIdle <= 0 || o.window.FlowIdle > maxTimeout:
		return fmt.Errorf("--flows.idle-timeout=%v out of range: use a positive duration up to %v", o.window.FlowIdle, maxTimeout)
	case o.window.FlowActive <= 0 || o.window.FlowActive > maxTimeout:
		return fmt.Errorf("--flows.active-timeout=%v out of range: use a positive duration up to %v", o.window.FlowActive, maxTimeout)
	case o.topK < 0 || o.topK > features.MaxTopK:
		return fmt.Errorf("--features.top-k=%d out of range: use 0 (off) to %d", o.topK, features.MaxTopK)
	case !finite(o.speed) || o.speed < 0 || (o.speed > 0 && o.speed < minReplaySpeed) || o.speed > maxReplaySpeed:
		return fmt.Errorf("--capture.pcap.speed=%v out of range: use 0 (as fast as possible) or %v to %v (1 = real time)", o.speed, minReplaySpeed, maxReplaySpeed)
	case o.snaplen < 64 || o.snaplen > 262144:
		return fmt.Errorf("--capture.snaplen=%d out of range: use 64 to 262144", o.snaplen)
	case o.workers < 0 || o.workers > maxWorkers:
		return fmt.Errorf("--capture.workers=%d out of range: use 0 (one per CPU) to %d", o.workers, maxWorkers)
	case o.workers > 1 && o.method == capture.MethodPcap && len(o.interfaces) > 0:
		return fmt.Errorf("--capture.workers=%d needs --capture.method=afpacket: libpcap has no fanout", o.workers)
	case o.buffer < minBuffer || o.buffer > maxBuffer:
		return fmt.Errorf("--capture.buffer-size=%v out of range: use %v to %v", o.buffer, units.Base2Bytes(minBuffer), units.Base2Bytes(maxBuffer))
	case o.eventsSize < minEventsSize || o.eventsSize > maxEventsSize:
		return fmt.Errorf("--events.max-size=%v out of range: use %v to %v", o.eventsSize, units.Base2Bytes(minEventsSize), units.Base2Bytes(maxEventsSize))
	case o.eventsKeep < 1 || o.eventsKeep > maxEventsKeep:
		return fmt.Errorf("--events.keep=%d out of range: keep 1 to %d rotated files", o.eventsKeep, maxEventsKeep)
	case len(o.interfaces) > 0 && len(o.pcaps) > 0:
		return errors.New("--capture.interface and --capture.pcap cannot be combined: run one exporter per source")
	case !strings.HasPrefix(o.metricsPath, "/"):
		return fmt.Errorf("--web.telemetry-path=%q must start with /", o.metricsPath)
	}
	o.window.TopK = o.topK
	return o.validateDetector()
}

// validateDetector checks the detector flags and builds its configuration.
func (o *options) validateDetector() error {
	windows := func(d time.Duration) int { return int(d / o.window.Window) }
	c := detector.DefaultConfig()
	c.Train.Contamination, c.Train.Seed = o.contamination, o.seed
	c.Train.Members = nil
	for _, m := range strings.Split(o.members, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !slices.Contains(detector.AllMembers, m) {
			return fmt.Errorf("--detector.models: unknown model %q: use some of %s", m, strings.Join(detector.AllMembers, ","))
		}
		if !slices.Contains(c.Train.Members, m) {
			c.Train.Members = append(c.Train.Members, m)
		}
	}
	switch {
	case len(c.Train.Members) == 0:
		return fmt.Errorf("--detector.models is empty: enable at least one of %s, or use --no-detector.enable", strings.Join(detector.AllMembers, ","))
	case !(o.contamination > 0 && o.contamination < 0.5): // NaN too
		return fmt.Errorf("--detector.contamination=%v out of range: use a share above 0 and below 0.5 (default 0.001)", o.contamination)
	case o.warmup < 2*o.window.Window || o.warmup > maxDuration:
		return fmt.Errorf("--detector.warmup=%v out of range for --window.length=%v: use two windows (%v) to %v, or shorten --window.length", o.warmup, o.window.Window, 2*o.window.Window, maxDuration)
	case o.horizon < 3*o.window.Window || o.horizon > maxHorizonWindows*o.window.Window:
		return fmt.Errorf("--detector.horizon=%v out of range: use 3 to %d windows of --window.length=%v (default 5m); under a flood each window of horizon holds up to 1.6 MB", o.horizon, maxHorizonWindows, o.window.Window)
	case o.retrain < 0 || (o.retrain > 0 && o.retrain < o.window.Window) || o.retrain > maxDuration:
		return fmt.Errorf("--detector.retrain-interval=%v out of range: use 0 (never) or one window (%v) to %v", o.retrain, o.window.Window, maxDuration)
	case o.endAfter < 1 || o.endAfter > maxEndWindows:
		return fmt.Errorf("--detector.attack-end-windows=%d out of range: use 1 to %d", o.endAfter, maxEndWindows)
	case o.attackSources < 0 || o.attackSources > maxAttackSources:
		return fmt.Errorf("--detector.attack-sources=%d out of range: use 0 (off) to %d", o.attackSources, maxAttackSources)
	}
	for _, a := range o.allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			if ip, err2 := netip.ParseAddr(a); err2 == nil {
				p = netip.PrefixFrom(ip, ip.BitLen())
			} else {
				return fmt.Errorf("--detector.allow=%q is not a CIDR (like 192.0.2.0/24 or 2001:db8::/32)", a)
			}
		}
		c.Allow = append(c.Allow, p.Masked())
	}
	c.Warmup, c.RetrainEvery, c.EndAfter, c.Horizon = windows(o.warmup), windows(o.retrain), o.endAfter, windows(o.horizon)
	o.window.Horizon = c.Horizon
	o.det = c
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
