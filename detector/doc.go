// Package detector turns feature windows into verdicts: a calibrated
// ensemble score, anomalous or not, a threat level, a confidence, the
// features that explain it, and the attack types that explainable rules on
// the features recognise. It knows nothing of packets or Prometheus.
//
// It is the fourth stage of the flow (capture -> decode -> features ->
// detector -> snapshot -> Prometheus collector): the pipeline hands each
// closed features.Window of an interface, or of a host group, to its
// Detector, whose Observe returns a Verdict. The pipeline publishes
// verdicts in the snapshots the collector reads at scrape time, and hands
// them to the event log, the SIEM output and the evidence recorder. The
// ensemble's members are in detector/models; the scaler, calibration,
// attack types, model files, training and evaluation are here.
package detector
