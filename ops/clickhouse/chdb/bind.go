package chdb

import (
	"fmt"
	"strings"
)

// Bind replaces each ? of query with the next argument as a SQL literal, as clickhouse-go's
// client-side binding does, for running a query of the Go code on chdb, which takes no
// parameters: strings are quoted (backslash and quote escaped), other values are printed with
// fmt. A ? inside a string literal of query is not told apart: the queries of this repository
// have none. It fails when the arguments and the ?s do not pair up.
func Bind(query string, args ...any) (string, error) {
	var b strings.Builder
	parts := strings.Split(query, "?")
	if len(parts)-1 != len(args) {
		return "", fmt.Errorf("%d arguments for %d ? in %s", len(args), len(parts)-1, query)
	}
	for i, part := range parts {
		b.WriteString(part)
		if i == len(args) {
			break
		}
		switch v := args[i].(type) {
		case string:
			b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'")
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String(), nil
}
