// Package stack runs the whole monitoring stack on loopback: the exporter
// built from this tree replays a capture with attacks in real time, a real
// Prometheus scrapes it with the shipped configuration and rules, a real
// Alertmanager routes the alerts with the shipped routes, inhibitions and
// templates to a webhook standing in for Slack and a fake SMTP server, and
// every dashboard query must return data. It needs prometheus and
// prometheus-alertmanager (amtool for the email templates), skips with a
// message without them and with -short, and takes about 2 minutes
// (make test-e2e). The exporter's demo gets the same path, as
// docker-compose.demo.yml runs it, ten times as fast (about 30 s), and
// that file is checked with docker-compose config. The checks of the
// generated files by themselves are mixin's tests. It has only tests.
package stack
