package siem

import "github.com/prometheus/client_golang/prometheus"

var (
	sentDesc = prometheus.NewDesc(prometheus.BuildFQName("netanomaly", "syslog", "messages_sent_total"),
		"Event records written to the syslog receiver.", []string{"transport"}, nil)
	droppedDesc = prometheus.NewDesc(prometheus.BuildFQName("netanomaly", "syslog", "messages_dropped_total"),
		"Event records never sent: the queue was full, or they were still queued at shutdown.", []string{"transport"}, nil)
	errorsDesc = prometheus.NewDesc(prometheus.BuildFQName("netanomaly", "syslog", "errors_total"),
		"Failed connects, failed writes and records too large to send to the syslog receiver.", []string{"transport"}, nil)
	trimmedDesc = prometheus.NewDesc(prometheus.BuildFQName("netanomaly", "syslog", "messages_trimmed_total"),
		"Event records sent with fields dropped to fit the maximum message size.", []string{"transport"}, nil)
	queuedDesc = prometheus.NewDesc(prometheus.BuildFQName("netanomaly", "syslog", "queue_length"),
		"Event records waiting to be sent to the syslog receiver.", []string{"transport"}, nil)
	connectedDesc = prometheus.NewDesc(prometheus.BuildFQName("netanomaly", "syslog", "connected"),
		"Whether the exporter holds a connection to the syslog receiver (1) or not (0).", []string{"transport"}, nil)
)

// Describe implements prometheus.Collector.
func (s *Sender) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sentDesc, droppedDesc, errorsDesc, trimmedDesc, queuedDesc, connectedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the sender's Stats as
// metrics, read at scrape time.
func (s *Sender) Collect(ch chan<- prometheus.Metric) {
	st := s.Stats()
	connected := 0.0
	if st.Connected {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(sentDesc, prometheus.CounterValue, float64(st.Sent), st.Transport)
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(st.Dropped), st.Transport)
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.CounterValue, float64(st.Errors), st.Transport)
	ch <- prometheus.MustNewConstMetric(trimmedDesc, prometheus.CounterValue, float64(st.Trimmed), st.Transport)
	ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(st.Queued), st.Transport)
	ch <- prometheus.MustNewConstMetric(connectedDesc, prometheus.GaugeValue, connected, st.Transport)
}
