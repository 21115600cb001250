package httpapi

import "embed"

// staticFiles is the dashboard: plain HTML, CSS and JavaScript with inline SVG charts, no
// build step, embedded so the API binary is the whole deployment.
//
//go:embed static
var staticFiles embed.FS
