// Package sketch holds the fixed-memory summaries the feature extractors
// feed on the packet hot path: hashing, HyperLogLog distinct counting, a
// Bloom filter for first-seen tests, SpaceSaving heavy hitters and a bucket
// histogram for entropy.
//
// It is a leaf under the feature stage (capture -> decode -> features ->
// detector), used by collector/features and the pipeline's per-packet
// lookups, and imports nothing of the exporter.
//
// Every structure sizes its memory at construction and never grows with the
// number of distinct keys, because the keys come from an attacker who can
// send arbitrarily many of them. Add-style methods do not allocate.
//
// All hashes use fixed seeds so that two processes fed the same packets
// produce the same numbers; golden tests depend on it. The price is that an
// attacker who knows the seeds can choose keys that collide or that skew the
// estimates; the structures stay bounded in memory and time per packet
// (SpaceSaving degrades to O(k) per Add at worst), but their answers can be
// steered.
//
// The types are not safe for concurrent use; give each goroutine its own
// instance and Merge where the type supports it.
package sketch
