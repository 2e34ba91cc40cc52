// Package monitoring generates and checks the monitoring stack that ships
// with the exporter: the Prometheus rules and their promtool unit tests, the
// Alertmanager configuration, the Grafana dashboards and the docker-compose
// stack.
//
// The detection alerts (one per attack type, each with a critical twin) and
// the dashboards are generated from the tables in this package, so that the
// eleven attack types and the three dashboards stay consistent; the generated
// files are committed and a test fails when they are out of date:
//
//	go test ./monitoring -run TestGeneratedFiles -u
//
// The other tests run promtool, amtool and docker-compose on the committed
// files and skip with a message when a tool is not installed.
package monitoring
