package serve

import (
	"flag"
	"io"
	"log/slog"
)

// LogFlags are the -log-format and -log-level flags every service shares. Through
// config.ParseFlags their environment variables are ASSAY_<SERVICE>_LOG_FORMAT, then
// ASSAY_LOG_FORMAT (and the same for LEVEL), so one environment configures the logs of a
// whole deployment and one service can still differ.
type LogFlags struct {
	Format, Level string
}

// RegisterLogFlags registers -log-format and -log-level on fs.
func RegisterLogFlags(fs *flag.FlagSet) *LogFlags {
	l := &LogFlags{}
	fs.StringVar(&l.Format, "log-format", "text", "log format: text or json")
	fs.StringVar(&l.Level, "log-level", "info", "log level: debug, info, warn or error")
	return l
}

// Logger returns the logger the flags describe, writing to w.
func (l *LogFlags) Logger(w io.Writer) (*slog.Logger, error) { return NewLogger(w, l.Format, l.Level) }
