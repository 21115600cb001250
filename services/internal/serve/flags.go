package serve

import (
	"flag"
	"io"
	"log/slog"

	"github.com/assay-data/assay/ops/config"
)

// LogFlags are the -log-format and -log-level flags every service shares, with the
// ASSAY_LOG_FORMAT and ASSAY_LOG_LEVEL fallbacks, so one environment configures the logs of a
// whole deployment the same way.
type LogFlags struct {
	Format, Level string
}

// RegisterLogFlags registers -log-format and -log-level on fs.
func RegisterLogFlags(fs *flag.FlagSet) *LogFlags {
	l := &LogFlags{}
	fs.StringVar(&l.Format, "log-format", config.Env("ASSAY_LOG_FORMAT", "text"), "log format: text or json (env ASSAY_LOG_FORMAT)")
	fs.StringVar(&l.Level, "log-level", config.Env("ASSAY_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env ASSAY_LOG_LEVEL)")
	return l
}

// Logger returns the logger the flags describe, writing to w.
func (l *LogFlags) Logger(w io.Writer) (*slog.Logger, error) { return NewLogger(w, l.Format, l.Level) }
