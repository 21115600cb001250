// Package kafka owns Assay's Kafka topology: the definition of every contract topic (partition
// count, infinite retention, never compacted) and the admin code that creates them, plus the
// franz-go client construction every service shares.
//
// The shell scripts beside this file (kafka.sh, pom.xml) run a real single-node broker for
// local work and tests; this package works against any cluster.
package kafka
