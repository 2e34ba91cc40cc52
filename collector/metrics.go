package collector

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

const namespace = "netanomaly"

func desc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	fq := prometheus.BuildFQName(namespace, subsystem, name)
	unit := prometheus.WithUnit(unitOf(fq))
	d := prometheus.V2.NewDesc(fq, help, prometheus.UnconstrainedLabels(labels), nil, unit)
	if len(labels) > 0 && labels[0] == "interface" {
		grouped[d] = prometheus.V2.NewDesc(fq, help, prometheus.UnconstrainedLabels(append([]string{"interface", "group"}, labels[1:]...)), nil, unit)
	}
	return d
}

// unitOf returns the unit a metric's name ends in, for OpenMetrics'
// # UNIT line, which must be the name's suffix (a counter's before
// _total) or Prometheus refuses the scrape: the base units seconds, bytes
// and ratio, and the features' bits and characters. Counts and rates
// (_per_second, _per_window) have none.
func unitOf(name string) string {
	name = strings.TrimSuffix(name, "_total")
	for _, u := range []string{"seconds", "bytes", "ratio", "bits", "characters"} {
		if strings.HasSuffix(name, "_"+u) {
			return u
		}
	}
	return ""
}

// grouped holds each per-interface series' twin with a group label: with
// host groups configured, the window and detector series of an interface
// and of its groups carry one (empty for the whole interface, which
// Prometheus stores as no label), so that one family has one label set.
var grouped = map[*prometheus.Desc]*prometheus.Desc{}

var (
	packetsDesc    = desc("", "packets_total", "Packets by outer layer-4 protocol.", "interface", "protocol")
	bytesDesc      = desc("", "bytes_total", "Bytes on the wire by outer layer-4 protocol.", "interface", "protocol")
	appPacketsDesc = desc("", "app_packets_total", "Packets by application, guessed from well-known ports.", "interface", "app")
	appBytesDesc   = desc("", "app_bytes_total", "Bytes on the wire by application, guessed from well-known ports.", "interface", "app")
	sizeDesc       = desc("", "packet_size_bytes", "Packet size on the wire.", "interface")
	fragmentsDesc  = desc("", "fragments_total", "IP fragments, first and later ones, by the protocol of the datagram they belong to (later fragments are protocol other in netanomaly_packets_total).", "interface", "protocol")

	windowsDesc      = desc("", "windows_total", "Feature windows closed.", "interface")
	windowStartDesc  = desc("window", "start_timestamp_seconds", "Start of the last closed window on the packet clock.", "interface")
	windowLengthDesc = desc("window", "length_seconds", "Time the last closed window's rates are divided by.", "interface")
	gapSkippedDesc   = desc("window", "gaps_skipped_total", "Empty windows not emitted because the packet clock jumped too far ahead.", "interface")
	clockResetsDesc  = desc("window", "clock_resets_total", "Times the packet clock went back by more than a window.", "interface")
	topSrcDesc       = desc("", "top_source_bytes", "Bytes sent by the busiest sources in the last window (opt-in, capped top-k).", "interface", "rank", "address")
	topDstDesc       = desc("", "top_destination_bytes", "Bytes received by the busiest destinations in the last window (opt-in, capped top-k).", "interface", "rank", "address")

	flowsActiveDesc  = desc("flows", "active", "Flows in the flow table.", "interface")
	flowsMaxDesc     = desc("flows", "max", "Capacity of the flow table (--flows.max, rounded up).", "interface")
	flowsCreatedDesc = desc("flows", "created_total", "Flows inserted into the flow table.", "interface")
	flowsEndedDesc   = desc("flows", "ended_total", "Flows that timed out or closed.", "interface")
	flowsEvictedDesc = desc("flows", "evicted_total", "Flows pushed out of a full flow table by new flows.", "interface")

	upDesc            = desc("capture", "up", "Whether the capture source is open and delivering (1) or not (0: see netanomaly_capture_state for why).", "interface")
	pausedDesc        = desc("capture", "paused", "Whether capture was stopped through the admin API (1) or not (0).", "interface")
	stateDesc         = desc("capture", "state", "Capture state, 1 for the current one: capturing, reopening (failed, being reopened), paused (stopped through the admin API), finished (a capture file ended), failed (cannot be reopened).", "interface", "state")
	fileErrorsDesc    = desc("capture", "file_errors_total", "Capture file passes ended early by a corrupt record (the packets before it are counted).", "interface")
	receivedDesc      = desc("capture", "packets_received_total", "Packets received from the kernel or read from the file.", "interface")
	droppedDesc       = desc("capture", "packets_dropped_total", "Packets dropped before counting, by stage: kernel (ring full), interface (driver), queue (our own queue full).", "interface", "stage")
	reopensDesc       = desc("capture", "reopens_total", "Times the capture source was reopened after a failure.", "interface")
	decodeErrDesc     = desc("decode", "errors_total", "Frames with a malformed header, by layer; they are still counted as packets.", "interface", "layer")
	unsupportedDesc   = desc("decode", "unsupported_link_total", "Frames skipped because their link type is not supported.", "interface")
	busyDesc          = desc("", "feature_processing_seconds_total", "Time the feature stage spent aggregating packets and closing windows.", "interface")
	sendersDropDesc   = desc("presence", "dropped_packets_total", "Packets that came once a window's list of senders was full (4096 addresses): such a window says nothing of which hosts were silent.", "interface")
	presenceHostsDesc = desc("detector", "presence_hosts", "Regular hosts in the models' presence baseline (at most 1024).", "interface")
	presenceLeftDesc  = desc("detector", "presence_hosts_left", "Regular hosts the models' presence baseline left out past its 1024.", "interface")
	presenceUncDesc   = desc("detector", "presence_uncounted_sightings", "Sightings of hosts that the count behind the models' presence baseline had no room for (8192 hosts at once).", "interface")
	behaviourDropDesc = desc("behaviour", "dropped_events_total", "Connection events not counted because a window's behaviour table was full, by table (pairs, services, hosts; dhcp_senders and dhcp_servers: DHCP requests and replies not counted by MAC or server); under a flood of forged addresses.", "interface", "table")
	blocklistPktsDesc = desc("blocklist", "packets_total", "Packets to or from an address on each threat-intel list of the configuration file.", "interface", "list")
	blocklistDropDesc = desc("blocklist", "pairs_dropped_packets_total", "Packets between local hosts and listed addresses that a full window's table (1024 pairs) had no room to name; they are still counted per list.", "interface")
	arpReplacedDesc   = desc("arp", "table_replaced_total", "ARP and IPv6 neighbour owner entries taken over by another address in the fixed-size table.", "interface")
	traceReplacedDesc = desc("trace", "table_replaced_total", "Path traces (traceroute, mtr) forgotten while live, their slot in the fixed-size table taken by another sender and destination; their next probes count as contacts.", "interface")
)

var (
	scoreDesc        = desc("", "anomaly_score", "Ensemble anomaly score of the last window, in [0,1].", "interface")
	thresholdDesc    = desc("", "anomaly_threshold", "Ensemble score at and above which a window is anomalous.", "interface")
	modelScoreDesc   = desc("", "model_score", "Each model's calibrated anomaly score of the last window, in [0,1].", "interface", "model")
	anomalousDesc    = desc("", "anomalous", "Whether the last window was anomalous (1) or not (0).", "interface")
	threatDesc       = desc("", "threat_level", "Threat level of the last window: 0 none, 1 low, 2 medium, 3 high.", "interface")
	confidenceDesc   = desc("", "confidence", "Confidence in the last window's verdict, in [0,1].", "interface")
	attackDesc       = desc("", "attack", "Whether an attack of this type is in progress (1) or not (0); one attack stays 1 from its first to its last window.", "interface", "type")
	attackConfDesc   = desc("", "attack_confidence", "Confidence that the attack in progress is of this type, in [0,1]; 0 when none is.", "interface", "type")
	attacksDesc      = desc("", "attacks_total", "Attacks started, by type.", "interface", "type")
	anomaliesDesc    = desc("", "anomalies_total", "Anomalous windows by attack type; unknown when no type was recognised.", "interface", "type")
	attackSourceDesc = desc("", "attack_source_info", "Top addresses (or, for ARP spoofing and DHCP starvation, MACs) sending an attack in progress (opt-in, capped, anonymized per --privacy.ip).", "interface", "type", "rank", "address")
	topPairDesc      = desc("", "top_pair_packets", "Busiest conversations at the last window's close: initiator and responder, by the packets of their flows still open (opt-in with --features.top-k, capped, anonymized per --privacy.ip).", "interface", "rank", "source", "destination")
	attackPathDesc   = desc("", "attack_path_info", "Attack paths of each attack in progress: its top sources times its top targets (opt-in with --detector.attack-sources, capped, anonymized per --privacy.ip).", "interface", "type", "source", "target")
	attackTargetDesc = desc("", "attack_target_info", "Top addresses an attack in progress is aimed at (opt-in, capped, anonymized per --privacy.ip).", "interface", "type", "rank", "address")
	countryPktsDesc  = desc("", "country_packets_total", "Packets by source country (with --geoip.database): ISO 3166 codes of the countries that ranked in a window's top 20, unknown (private addresses, not in the database) and other.", "interface", "country")
	countryBytesDesc = desc("", "country_bytes_total", "Bytes on the wire by source country (with --geoip.database), labelled as netanomaly_country_packets_total.", "interface", "country")
	attackCtryDesc   = desc("", "attack_source_country_info", "The countries of the named sources of each attack in progress (with --geoip.database).", "interface", "type", "country")
	evidenceInfoDesc = desc("", "attack_evidence_info", "The evidence capture (file name in the evidence directory) of each attack in progress that has one.", "interface", "type", "file")
	userRuleDesc     = desc("", "user_rule_info", "The configuration file's rules that judge this interface, with their attack type, severity, expression and recommendation (1).", "interface", "type", "severity", "expression", "recommendation")
	detectionDesc    = desc("", "detection_active", "Which detection runs: the behaviour rules (from the first window) and the trained model (once trained), 1 when active.", "interface", "method")
	explZDesc        = desc("", "explanation_zscore", "Robust z-score in the last window of each feature that has been among the three that deviate most in a window since start; the three largest in absolute value are the last window's.", "interface", "feature")
	explValueDesc    = desc("", "explanation_value", "Value in the last window of each feature that has been among the three that deviate most in a window since start.", "interface", "feature")
	explLowDesc      = desc("", "explanation_expected_low", "Low end of the expected range of each feature that has been among the three that deviate most in a window since start.", "interface", "feature")
	explHighDesc     = desc("", "explanation_expected_high", "High end of the expected range of each feature that has been among the three that deviate most in a window since start.", "interface", "feature")
	protoDevDesc     = desc("", "protocol_deviation", "Largest robust z-score among each protocol's features in the last window: which protocol is abnormal.", "interface", "protocol")
	trainedDesc      = desc("detector", "trained", "Whether the detector has trained models (1) or is warming up (0); the behaviour rules judge either way.", "interface")
	warmupDesc       = desc("detector", "warmup_progress", "Share of the warm-up done, in [0,1].", "interface")
	trainWindowsDesc = desc("detector", "training_windows", "Windows the current models were trained on.", "interface")
	lastTrainDesc    = desc("detector", "last_train_timestamp_seconds", "Wall-clock time the current models were trained or loaded.", "interface")
	retrainsDesc     = desc("detector", "retrains_total", "Trainings completed since start.", "interface")
	scoringDesc      = desc("detector", "scoring_seconds_total", "Time spent scoring windows.", "interface")
)

// featureDescs has one gauge per schema feature: netanomaly_window_<name>.
var featureDescs = func() (d [features.NumFeatures]*prometheus.Desc) {
	for i, f := range features.Schema {
		d[i] = desc("window", f.Name, f.Help+" Last closed window.", "interface")
	}
	return d
}()

// Exporter is the prometheus.Collector for all pipelines. Collect only
// reads published snapshots: a scrape never waits for capture.
type Exporter struct {
	pipelines     []*pipeline.Pipeline
	anon          *pipeline.Anonymizer
	attackSources int
}

// NewExporter returns a collector over the pipelines. attackSources is how
// many addresses per attack to export as labels (0 = none).
func NewExporter(pipelines []*pipeline.Pipeline, anon *pipeline.Anonymizer, attackSources int) *Exporter {
	return &Exporter{pipelines: pipelines, anon: anon, attackSources: attackSources}
}

// Describe sends no descriptors: the exporter is unchecked, because the
// top-k series depend on traffic.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect emits const metrics from each pipeline's last snapshot, and
// from its host groups' views.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	groups := false
	for _, p := range e.pipelines {
		groups = groups || len(p.Views()) > 0
	}
	for _, p := range e.pipelines {
		e.collect(ch, p, groups)
		for _, v := range p.Views() {
			e.collect(ch, v, true)
		}
	}
}

func (e *Exporter) collect(ch chan<- prometheus.Metric, p *pipeline.Pipeline, groups bool) {
	s := p.Snapshot()
	iface := s.Interface
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{iface}, labels...)...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{iface}, labels...)...)
	}
	// The window and detector series: of a group's view, or of an
	// interface with groups, with the group label.
	vcounter, vgauge := counter, gauge
	if groups {
		vlabels := []string{iface, s.Group}
		vcounter = func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(grouped[d], prometheus.CounterValue, v, append(vlabels, labels...)...)
		}
		vgauge = func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(grouped[d], prometheus.GaugeValue, v, append(vlabels, labels...)...)
		}
	}
	if s.Group != "" {
		e.collectView(vgauge, vcounter, iface, s)
		return
	}
	c := &s.Counters

	gauge(upDesc, b2f(p.Up()))
	gauge(pausedDesc, b2f(p.Paused()))
	state := p.State()
	for _, st := range pipeline.CaptureStates {
		gauge(stateDesc, b2f(st == state), st)
	}
	counter(fileErrorsDesc, float64(s.Source.FileErrors))
	counter(receivedDesc, float64(s.Source.Received))
	counter(droppedDesc, float64(s.Source.KernelDropped), "kernel")
	counter(droppedDesc, float64(s.Source.IfDropped), "interface")
	counter(droppedDesc, float64(s.QueueDropped), "queue")
	counter(reopensDesc, float64(s.Reopens))
	for l, name := range decode.LayerNames() {
		counter(decodeErrDesc, float64(s.DecodeErrors[l]), name)
	}
	counter(unsupportedDesc, float64(s.UnsupportedLink))
	counter(busyDesc, s.BusySeconds)

	for i, name := range decode.ProtocolNames() {
		counter(packetsDesc, float64(c.Packets[i]), name)
		counter(bytesDesc, float64(c.Bytes[i]), name)
		counter(fragmentsDesc, float64(c.Fragments[i]), name)
	}
	for i, name := range decode.AppNames() {
		if decode.App(i) == decode.AppNone {
			continue
		}
		counter(appPacketsDesc, float64(c.AppPackets[i]), name)
		counter(appBytesDesc, float64(c.AppBytes[i]), name)
	}
	if len(c.SizeCounts) == len(features.SizeBuckets)+1 {
		buckets := make(map[float64]uint64, len(features.SizeBuckets))
		var cum uint64
		for i, ub := range features.SizeBuckets {
			cum += c.SizeCounts[i]
			buckets[ub] = cum
		}
		cum += c.SizeCounts[len(features.SizeBuckets)]
		ch <- prometheus.MustNewConstHistogram(sizeDesc, cum, c.SizeSum, buckets, iface)
	}

	counter(windowsDesc, float64(c.Windows))
	counter(gapSkippedDesc, float64(c.GapSkipped))
	counter(clockResetsDesc, float64(c.ClockResets))
	gauge(flowsActiveDesc, float64(c.FlowsActive))
	gauge(flowsMaxDesc, float64(c.FlowsMax))
	counter(flowsCreatedDesc, float64(c.Flows.Created))
	counter(flowsEndedDesc, float64(c.Flows.Ended))
	counter(flowsEvictedDesc, float64(c.Flows.Evicted))
	counter(behaviourDropDesc, float64(c.BehaviourDropped.Pairs), "pairs")
	counter(behaviourDropDesc, float64(c.BehaviourDropped.Services), "services")
	counter(behaviourDropDesc, float64(c.BehaviourDropped.Hosts), "hosts")
	counter(behaviourDropDesc, float64(c.BehaviourDropped.DHCPSenders), "dhcp_senders")
	counter(behaviourDropDesc, float64(c.BehaviourDropped.DHCPServers), "dhcp_servers")
	counter(sendersDropDesc, float64(c.SendersDropped))
	counter(arpReplacedDesc, float64(c.ARPReplaced))
	counter(traceReplacedDesc, float64(c.TraceReplaced))
	if c.BlocklistPackets != nil {
		for name, n := range c.BlocklistPackets {
			counter(blocklistPktsDesc, float64(n), name)
		}
		counter(blocklistDropDesc, float64(c.BlocklistPairsDropped))
	}

	e.collectView(vgauge, vcounter, iface, s)
	w := s.Window
	if w == nil {
		return
	}
	for _, r := range w.Countries {
		counter(countryPktsDesc, float64(r.Packets), r.Label)
		counter(countryBytesDesc, float64(r.Bytes), r.Label)
	}
}

// collectView emits the series a host group's view has as well as an
// interface: its detector's and its last window's.
func (e *Exporter) collectView(gauge, counter func(*prometheus.Desc, float64, ...string), iface string, s *pipeline.Snapshot) {
	if s.Detector != nil {
		e.collectDetector(gauge, counter, iface, s.Group, s.Detector)
	}
	w := s.Window
	if w == nil {
		return // no window closed yet: no feature values to report
	}
	gauge(windowStartDesc, float64(w.Start)/1e9)
	gauge(windowLengthDesc, w.Seconds)
	for i, d := range featureDescs {
		gauge(d, w.Features[i])
	}
	for i, t := range w.TopSources {
		gauge(topSrcDesc, float64(t.Bytes), strconv.Itoa(i+1), e.anon.Addr(t.Addr))
	}
	for i, t := range w.TopDests {
		gauge(topDstDesc, float64(t.Bytes), strconv.Itoa(i+1), e.anon.Addr(t.Addr))
	}
	for i, t := range w.TopPairs {
		gauge(topPairDesc, float64(t.Packets), strconv.Itoa(i+1), e.anon.Addr(t.Src), e.anon.Addr(t.Dst))
	}
}

func (e *Exporter) collectDetector(gauge, counter func(*prometheus.Desc, float64, ...string), iface, group string, d *pipeline.DetectorSnapshot) {
	gauge(trainedDesc, b2f(d.Trained))
	gauge(warmupDesc, d.WarmupProgress)
	gauge(trainWindowsDesc, float64(d.Windows))
	if p := d.Presence; p != nil {
		gauge(presenceHostsDesc, float64(len(p.Hosts)))
		gauge(presenceLeftDesc, float64(p.Left))
		gauge(presenceUncDesc, float64(p.Uncounted))
	}
	counter(retrainsDesc, float64(d.Retrains))
	counter(scoringDesc, d.ScoringSeconds)
	if !d.LastTrain.IsZero() {
		gauge(lastTrainDesc, float64(d.LastTrain.UnixNano())/1e9)
	}
	for _, t := range detector.TypesInForce() {
		counter(attacksDesc, float64(d.Attacks[t]), t)
		counter(anomaliesDesc, float64(d.Anomalies[t]), t)
	}
	counter(anomaliesDesc, float64(d.Anomalies["unknown"]), "unknown")

	for typ, path := range d.Evidence {
		gauge(evidenceInfoDesc, 1, typ, filepath.Base(path))
	}
	for _, r := range detector.UserRules() {
		if (len(r.Interfaces) == 0 || slices.Contains(r.Interfaces, iface)) && (len(r.Groups) == 0 || slices.Contains(r.Groups, group)) {
			gauge(userRuleDesc, 1, r.Type(), severityNames[r.Severity], r.Expr, r.Recommendation)
		}
	}
	gauge(detectionDesc, 1, "rules")
	gauge(detectionDesc, b2f(d.Trained), "model")

	v := d.Verdict
	if v == nil {
		return // no window judged yet
	}
	if v.Trained {
		// The model's scores exist once it is trained; the rules'
		// verdicts below from the first window.
		gauge(scoreDesc, v.Score)
		gauge(thresholdDesc, v.Threshold)
		for _, m := range v.Models {
			gauge(modelScoreDesc, m.Score, m.Model)
		}
	}
	gauge(anomalousDesc, b2f(v.Anomalous))
	gauge(threatDesc, float64(v.Threat))
	gauge(confidenceDesc, v.Confidence)
	active := map[string]detector.ActiveAttack{}
	for _, a := range v.Active {
		active[a.Type] = a
	}
	for _, t := range detector.TypesInForce() {
		a, ok := active[t]
		gauge(attackDesc, b2f(ok), t)
		gauge(attackConfDesc, a.Confidence, t)
		rank := 0
		for _, src := range a.Sources {
			if rank < e.attackSources {
				rank++
				gauge(attackSourceDesc, 1, t, strconv.Itoa(rank), e.anon.Addr(src))
			}
		}
		for _, mac := range a.MACs {
			if rank < e.attackSources {
				rank++
				gauge(attackSourceDesc, 1, t, strconv.Itoa(rank), net.HardwareAddr(mac[:]).String())
			}
		}
		for _, c := range a.SourceCountries {
			gauge(attackCtryDesc, 1, t, c)
		}
		for i, dst := range a.Targets[:min(len(a.Targets), e.attackSources)] {
			gauge(attackTargetDesc, 1, t, strconv.Itoa(i+1), e.anon.Addr(dst))
			for _, src := range a.Sources[:min(len(a.Sources), e.attackSources)] {
				gauge(attackPathDesc, 1, t, e.anon.Addr(src), e.anon.Addr(dst))
			}
		}
	}
	// One series per feature, not per rank: the top three are the
	// largest absolute z-scores (topk), and a series keeps its feature.
	for _, x := range v.Explained {
		gauge(explZDesc, x.Z, x.Feature)
		gauge(explValueDesc, x.Value, x.Feature)
		gauge(explLowDesc, x.ExpectedLow, x.Feature)
		gauge(explHighDesc, x.ExpectedHigh, x.Feature)
	}
	for _, pd := range v.Protocols {
		gauge(protoDevDesc, pd.Z, pd.Protocol)
	}
}

// severityNames names attack type severities.
var severityNames = map[int]string{2: "medium", 3: "high"}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
