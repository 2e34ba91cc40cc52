// Package mixin generates and checks the monitoring stack that ships
// with the exporter: the Prometheus rules and their promtool unit tests, the
// Alertmanager configuration, the Grafana dashboards, the docker-compose
// stack, the Kubernetes manifests of deploy/kubernetes and the federation
// example of prometheus/federation.
//
// The detection alerts (one per attack type, each with a critical twin),
// the dashboards and the PrometheusRule of deploy/kubernetes (the rule
// files of prometheus/rules as one object) are generated from this package,
// so that the attack types, the dashboards and the rules stay consistent;
// the generated files are committed and a test fails when they are out of
// date:
//
//	go test ./mixin -run TestGeneratedFiles -u
//
// The other tests check those files by themselves: they run promtool,
// amtool and docker-compose on the committed files, load the shipped
// configurations into a real Prometheus and a real Alertmanager (each on its
// own, no exporter), check that every metric the rules and dashboards use is
// in the exporter's replay output, skip with a message when a tool is not
// installed, and decode the Kubernetes manifests strictly into the
// Kubernetes and prometheus-operator API types. The whole stack working
// together (exporter, Prometheus, Alertmanager, notifications) is tested in
// test/stack.
package mixin
