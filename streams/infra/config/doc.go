// Package config owns how every Assay binary is told where its infrastructure is: command-line
// flags whose environment variables ParseFlags derives from their names, and local defaults
// that match the scripts under ops/ (Kafka on 127.0.0.1:19092, ClickHouse on 127.0.0.1:19000).
//
// Precedence is flag > ASSAY_<SERVICE>_<NAME> > ASSAY_<NAME> > default, so a flag given on the
// command line always wins, an operator can point a whole process tree at another cluster with
// environment variables, and one service can still differ.
//
// Rules: a flag is declared once with a plain default; only main reads the environment (it
// passes os.LookupEnv to ParseFlags, and reads the secrets that have no flag, such as
// EnvClickHousePassword); a value that does not parse is an error naming the variable, never
// the default.
package config
