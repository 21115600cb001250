// Package deploy checks the Docker deployment's configuration without a Docker engine:
// docker-compose.yml, the Prometheus configuration and alert rules under ops/prometheus/ and
// the Grafana provisioning and dashboards under ops/grafana/. Its test parses each file,
// follows every reference (mounted files, build files, binaries, service names and ports,
// metric names, data source ids, ClickHouse tables) to something that exists in the
// repository, and runs promtool's rule checks and rule unit tests when promtool is installed.
// It has no code of its own: only the test.
package deploy
