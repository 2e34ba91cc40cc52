package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/blocklist"
	"github.com/netanomaly/netanomaly_exporter/internal/config"
	"github.com/netanomaly/netanomaly_exporter/internal/evidence"
	"github.com/netanomaly/netanomaly_exporter/internal/geoip"
	"github.com/netanomaly/netanomaly_exporter/internal/ipfix"
	"github.com/netanomaly/netanomaly_exporter/internal/siem"
)

// inForce is the configuration file's part in force: the user rules (in
// the detector), the threat-intel lists the aggregators look packets up
// in, and the outputs. A reload swaps each without stopping the capture.
type inForce struct {
	lists atomic.Pointer[blocklist.Blocklists]

	mu        sync.Mutex
	serving   bool               // serve: watch the lists, run the outputs
	stopWatch context.CancelFunc // of the lists' Watch
	syslog    *siem.Sender
	syslogCfg *siem.Config
	// ipfix exports flow records; the aggregators count what they need
	// only when it is configured at start.
	ipfix     atomic.Pointer[ipfix.Exporter]
	ipfixCfg  *ipfix.Config
	ipfixOn   bool                    // flow export set up at start
	anonBytes func([16]byte) [16]byte // --privacy.ip for flow records
	// pipelines are serve's, for host groups' CIDRs changed by a reload.
	pipelines []*pipeline.Pipeline
	// geo is the country database of --geoip.database, nil without.
	geo *geoip.DB
	// evidence is opened at start; a reload cannot change it.
	evidence    *evidence.Store
	evidenceCfg *evidence.Config
	logger      *slog.Logger
}

// force is the process's configuration in force.
var force = &inForce{}

// Set gives the aggregators the lists in force (features.Blocklists).
func (f *inForce) Set() *blocklist.Set {
	if b := f.lists.Load(); b != nil {
		return b.Set()
	}
	return nil
}

// apply puts a loaded configuration in force.
func (f *inForce) apply(cfg *config.Config) {
	detector.SetUserRules(cfg.Rules)
	detector.SetTypeSettings(cfg.Types)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists.Store(cfg.Blocklists)
	if !f.serving {
		return
	}
	if f.stopWatch != nil {
		f.stopWatch()
		f.stopWatch = nil
	}
	if cfg.Blocklists != nil {
		ctx, cancel := context.WithCancel(context.Background())
		f.stopWatch = cancel
		go cfg.Blocklists.Watch(ctx, blocklist.DefaultWatchInterval)
	}
	for _, p := range f.pipelines {
		switch {
		case cfg.Groups != nil:
			if err := p.SetGroups(cfg.Groups); err != nil {
				f.logger.Warn("host groups: the running ones stay in force", "err", err)
			}
		case len(p.Views()) > 0:
			f.logger.Warn("host groups: removing them takes effect at the next start", "interface", p.Interface())
		}
	}
	if f.evidence != nil && !reflect.DeepEqual(cfg.Evidence, f.evidenceCfg) {
		f.logger.Warn("the evidence section changed: it takes effect at the next start")
	}
	f.applyIPFIX(cfg.IPFIX)
	if reflect.DeepEqual(cfg.Syslog, f.syslogCfg) {
		return
	}
	if f.syslog != nil {
		old := f.syslog
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = old.Close(ctx)
		}()
		f.syslog = nil
	}
	f.syslogCfg = cfg.Syslog
	if cfg.Syslog != nil {
		s, err := siem.New(*cfg.Syslog, f.logger)
		if err != nil {
			// Validated with the file: only a failure of the moment.
			f.logger.Error("cannot start the syslog output", "err", err)
			return
		}
		f.syslog = s
	}
}

// geoInterval is how often serve looks for a new country database
// (geoipupdate replaces it weekly).
const geoInterval = 10 * time.Minute

// reloadGeo re-reads the country database if its file changed; a bad
// file leaves the one in force.
func (f *inForce) reloadGeo(logger *slog.Logger) {
	if f.geo == nil {
		return
	}
	swapped, err := f.geo.Reload()
	switch {
	case err != nil:
		logger.Error("the country database could not be re-read: the previous one stays in force", "err", err)
	case swapped:
		logger.Info("country database reloaded", "networks", f.geo.Info().Networks)
	}
}

// watchGeo reloads the country database when it changes, until ctx ends.
func (f *inForce) watchGeo(ctx context.Context, logger *slog.Logger) {
	if f.geo == nil {
		return
	}
	t := time.NewTicker(geoInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.reloadGeo(logger)
		}
	}
}

// serve makes apply watch the lists and run the outputs from now on.
func (f *inForce) serve(cfg *config.Config, logger *slog.Logger) {
	f.mu.Lock()
	f.serving, f.logger = true, logger
	f.mu.Unlock()
	if cfg != nil {
		f.apply(cfg)
	}
}

// close flushes the outputs, until ctx ends.
func (f *inForce) close(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopWatch != nil {
		f.stopWatch()
	}
	if f.syslog != nil {
		if err := f.syslog.Close(ctx); err != nil {
			f.logger.Warn("syslog output", "err", err)
		}
	}
	if f.evidence != nil {
		_ = f.evidence.Close()
	}
	if e := f.ipfix.Swap(nil); e != nil {
		if err := e.Close(ctx); err != nil {
			f.logger.Warn("IPFIX output", "err", err)
		}
	}
}

// applyIPFIX starts, restarts or stops the flow records' output; mu held.
func (f *inForce) applyIPFIX(cfg *ipfix.Config) {
	if reflect.DeepEqual(cfg, f.ipfixCfg) {
		return
	}
	if cfg != nil && !f.ipfixOn {
		f.logger.Warn("the ipfix section is new: flow records start at the next start")
		return
	}
	f.ipfixCfg = cfg
	var next *ipfix.Exporter
	if cfg != nil {
		e, err := ipfix.New(*cfg, f.logger)
		if err != nil {
			f.logger.Error("cannot start the IPFIX output", "err", err)
		}
		next = e
	}
	if old := f.ipfix.Swap(next); old != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = old.Close(ctx)
		}()
	}
}

// flowExport returns the aggregators' flow export callback when the
// configuration asks for flow records, nil otherwise. Addresses go out
// as --privacy.ip says.
func (f *inForce) flowExport(cfg *config.Config, anon *pipeline.Anonymizer) func(*features.FlowRecord) {
	if cfg == nil || cfg.IPFIX == nil {
		return nil
	}
	f.mu.Lock()
	f.ipfixOn, f.anonBytes = true, anon.AddrBytes()
	f.mu.Unlock()
	return f.exportFlow
}

// exportFlow hands a flow to the IPFIX output; it runs on an aggregator's
// goroutine, once per flow, and never blocks.
func (f *inForce) exportFlow(r *features.FlowRecord) {
	e := f.ipfix.Load()
	if e == nil {
		return
	}
	fl := ipfix.Flow{Src: r.Src, Dst: r.Dst, SrcPort: r.SrcPort, DstPort: r.DstPort, Proto: r.IPProto, Start: r.Start, End: r.End,
		Packets: r.Packets, Bytes: r.Bytes, RevPackets: r.RevPackets, RevBytes: r.RevBytes, Flags: r.Flags, RevFlags: r.RevFlags, EndReason: r.EndReason}
	if f.anonBytes != nil {
		fl.Src, fl.Dst = f.anonBytes(fl.Src), f.anonBytes(fl.Dst)
	}
	e.Export(&fl)
}

var (
	ipfixSentDesc = prometheus.NewDesc("netanomaly_ipfix_records_sent_total", "Flow records sent to the IPFIX collector.", nil, nil)
	ipfixMsgDesc  = prometheus.NewDesc("netanomaly_ipfix_messages_sent_total", "IPFIX messages sent, template-only ones included.", nil, nil)
	ipfixDropDesc = prometheus.NewDesc("netanomaly_ipfix_records_dropped_total", "Flow records never sent: the queue was full, or the collector could not be reached in time.", nil, nil)
	ipfixErrDesc  = prometheus.NewDesc("netanomaly_ipfix_send_errors_total", "Failed connects and writes to the IPFIX collector.", nil, nil)
	ipfixConnDesc = prometheus.NewDesc("netanomaly_ipfix_connected", "Whether the IPFIX transport is up (UDP: the socket is open).", nil, nil)
)

func (f *inForce) collectIPFIX(ch chan<- prometheus.Metric) {
	e := f.ipfix.Load()
	if e == nil {
		return
	}
	st := e.Stats()
	ch <- prometheus.MustNewConstMetric(ipfixSentDesc, prometheus.CounterValue, float64(st.RecordsSent))
	ch <- prometheus.MustNewConstMetric(ipfixMsgDesc, prometheus.CounterValue, float64(st.MessagesSent))
	ch <- prometheus.MustNewConstMetric(ipfixDropDesc, prometheus.CounterValue, float64(st.RecordsDropped))
	ch <- prometheus.MustNewConstMetric(ipfixErrDesc, prometheus.CounterValue, float64(st.SendErrors))
	ch <- prometheus.MustNewConstMetric(ipfixConnDesc, prometheus.GaugeValue, b2f(st.Connected))
}

// events hands event records to the outputs.
func (f *inForce) events(recs []detector.VerdictJSON) {
	f.mu.Lock()
	s := f.syslog
	f.mu.Unlock()
	if s == nil {
		return
	}
	for _, r := range recs {
		s.Send(r)
	}
}

var (
	blocklistEntriesDesc = prometheus.NewDesc("netanomaly_blocklist_entries", "Entries (addresses and prefixes) of each threat-intel list in force.", []string{"list"}, nil)
	blocklistOKDesc      = prometheus.NewDesc("netanomaly_blocklist_load_successful", "Whether each list's file loaded at its last change (1), or failed and its previous contents stay in force (0).", []string{"list"}, nil)
	blocklistLastDesc    = prometheus.NewDesc("netanomaly_blocklist_last_load_success_timestamp_seconds", "When each list's contents in force were read, in Unix seconds.", []string{"list"}, nil)
)

// Describe is empty: the series follow the configuration.
func (f *inForce) Describe(chan<- *prometheus.Desc) {}

// Collect reports the lists and the outputs in force.
func (f *inForce) Collect(ch chan<- prometheus.Metric) {
	if b := f.lists.Load(); b != nil {
		for _, l := range b.Status().Lists {
			ch <- prometheus.MustNewConstMetric(blocklistEntriesDesc, prometheus.GaugeValue, float64(l.Entries), l.Name)
			ch <- prometheus.MustNewConstMetric(blocklistOKDesc, prometheus.GaugeValue, b2f(l.Err == nil), l.Name)
			if !l.LastSuccess.IsZero() {
				ch <- prometheus.MustNewConstMetric(blocklistLastDesc, prometheus.GaugeValue, float64(l.LastSuccess.UnixNano())/1e9, l.Name)
			}
		}
	}
	f.mu.Lock()
	s := f.syslog
	f.mu.Unlock()
	if s != nil {
		s.Collect(ch)
	}
	f.collectEvidence(ch)
	f.collectIPFIX(ch)
}

// openEvidence opens the evidence captures' store when the configuration
// file asks for them; nil otherwise. Headers are written anonymized as
// --privacy.ip says.
func openEvidence(o options, anon *pipeline.Anonymizer, logger *slog.Logger) (*evidence.Store, error) {
	if o.config == nil || o.config.Evidence == nil {
		return nil, nil
	}
	cfg := *o.config.Evidence
	cfg.Anonymize = anon.AddrBytes()
	s, err := evidence.Open(cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("--config.file: %w", err)
	}
	force.mu.Lock()
	force.evidence, force.evidenceCfg = s, o.config.Evidence
	force.mu.Unlock()
	return s, nil
}

var (
	evidenceFilesDesc   = prometheus.NewDesc("netanomaly_evidence_files_written_total", "Evidence captures written (one per attack with one).", nil, nil)
	evidencePacketsDesc = prometheus.NewDesc("netanomaly_evidence_packets_written_total", "Packet headers written to evidence captures.", nil, nil)
	evidenceDropDesc    = prometheus.NewDesc("netanomaly_evidence_packets_dropped_total", "Packet headers for evidence captures dropped because the writer fell behind.", nil, nil)
	evidenceSkipDesc    = prometheus.NewDesc("netanomaly_evidence_attacks_skipped_total", "Attacks without an evidence capture because max_files_open were being written.", nil, nil)
	evidenceBytesDesc   = prometheus.NewDesc("netanomaly_evidence_bytes", "Bytes of evidence captures in the evidence directory.", nil, nil)
	evidenceDelDesc     = prometheus.NewDesc("netanomaly_evidence_files_deleted_total", "Evidence captures deleted to keep the directory under total_bytes.", nil, nil)
	evidenceUnparsDesc  = prometheus.NewDesc("netanomaly_evidence_unparseable_packets_total", "Packets left out of evidence captures because their addresses could not be found to anonymize.", nil, nil)
	evidenceErrDesc     = prometheus.NewDesc("netanomaly_evidence_write_errors_total", "Evidence captures ended early by a write error.", nil, nil)
)

func (f *inForce) collectEvidence(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	s := f.evidence
	f.mu.Unlock()
	if s == nil {
		return
	}
	st := s.Stats()
	for _, m := range []struct {
		d *prometheus.Desc
		v float64
	}{{evidenceFilesDesc, float64(st.FilesWritten)}, {evidencePacketsDesc, float64(st.PacketsWritten)}, {evidenceDropDesc, float64(st.PacketsDropped)},
		{evidenceSkipDesc, float64(st.AttacksSkipped)}, {evidenceDelDesc, float64(st.FilesDeleted)}, {evidenceUnparsDesc, float64(st.Unparseable)}, {evidenceErrDesc, float64(st.WriteErrors)}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, m.v)
	}
	ch <- prometheus.MustNewConstMetric(evidenceBytesDesc, prometheus.GaugeValue, float64(st.BytesOnDisk))
}
