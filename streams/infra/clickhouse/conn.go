package clickhouse

import (
	"context"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/infra/config"
)

// Open connects to ClickHouse over the native protocol, using cfg.Database as the default
// database, and pings it.
func Open(ctx context.Context, cfg config.ClickHouse) (driver.Conn, error) {
	return open(ctx, cfg, cfg.Database)
}

// EnsureDatabase creates cfg.Database when it does not exist. It connects to the "default"
// database to do so, because opening a connection on a missing database fails.
func EnsureDatabase(ctx context.Context, cfg config.ClickHouse) error {
	conn, err := open(ctx, cfg, "default")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+QuoteIdent(cfg.Database)); err != nil {
		return fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	return nil
}

func open(ctx context.Context, cfg config.ClickHouse, database string) (driver.Conn, error) {
	conn, err := ch.Open(&ch.Options{
		Protocol: ch.Native,
		Addr:     cfg.Addr,
		Auth: ch.Auth{
			Database: database,
			Username: cfg.User,
			Password: cfg.Password,
		},
		DialTimeout: 5 * time.Second,
		ClientInfo: ch.ClientInfo{Products: []struct {
			Name    string
			Version string
		}{{Name: "assay", Version: "dev"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ping clickhouse %v: %w", cfg.Addr, err)
	}
	return conn, nil
}

// QuoteIdent quotes a database, table or column name for ClickHouse with backticks, so names
// that come from configuration can never change the meaning of a statement.
func QuoteIdent(name string) string {
	out := make([]byte, 0, len(name)+2)
	out = append(out, '`')
	for i := 0; i < len(name); i++ {
		if name[i] == '`' || name[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, name[i])
	}
	return string(append(out, '`'))
}
