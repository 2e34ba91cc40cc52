// Package collector is the Prometheus side of the exporter, as in
// node_exporter: Exporter turns the snapshots that collector/pipeline
// publishes at each window close into const metrics with bounded labels,
// and ScrapeHandler serves scrapes from bytes rendered ahead (text,
// OpenMetrics, gzip) so a scrape never waits for capture. It reads
// pipelines; nothing below it knows Prometheus.
package collector
