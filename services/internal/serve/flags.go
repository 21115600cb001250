package serve

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/assay-data/assay/ops/config"
)

// LogFlags are the -log-format and -log-level flags every service shares. Their environment
// fallbacks are ASSAY_<SERVICE>_LOG_FORMAT, then ASSAY_LOG_FORMAT (and the same for LEVEL), so
// one environment configures the logs of a whole deployment and one service can still differ.
type LogFlags struct {
	Format, Level string
}

// RegisterLogFlags registers -log-format and -log-level on fs for service ("ingest",
// "processor", ...), which names its own environment variables.
func RegisterLogFlags(fs *flag.FlagSet, service string) *LogFlags {
	l := &LogFlags{}
	env := "ASSAY_" + strings.ToUpper(service) + "_LOG_"
	fs.StringVar(&l.Format, "log-format", config.Env(env+"FORMAT", config.Env("ASSAY_LOG_FORMAT", "text")),
		fmt.Sprintf("log format: text or json (env %sFORMAT, then ASSAY_LOG_FORMAT)", env))
	fs.StringVar(&l.Level, "log-level", config.Env(env+"LEVEL", config.Env("ASSAY_LOG_LEVEL", "info")),
		fmt.Sprintf("log level: debug, info, warn or error (env %sLEVEL, then ASSAY_LOG_LEVEL)", env))
	return l
}

// Logger returns the logger the flags describe, writing to w.
func (l *LogFlags) Logger(w io.Writer) (*slog.Logger, error) { return NewLogger(w, l.Format, l.Level) }
