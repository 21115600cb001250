// Package config owns how every Assay binary is told where its infrastructure is: command-line
// flags with ASSAY_* environment-variable fallbacks and local defaults that match the scripts
// under ops/ (Kafka on 127.0.0.1:19092, ClickHouse on 127.0.0.1:19000).
//
// Precedence is flag > environment > default, so a flag given on the command line always wins
// and an operator can point a whole process tree at another cluster with environment variables.
package config
