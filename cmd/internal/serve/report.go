package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrUsage marks errors in a command line; the commands exit with
// status 2 on them. Make them with [Usage].
var ErrUsage = errors.New("usage")

// usageError is an error in a command line, whose help is "help --help".
type usageError struct {
	help string
	err  error
}

func (e *usageError) Error() string   { return e.err.Error() }
func (e *usageError) Unwrap() []error { return []error{ErrUsage, e.err} }

// Usage returns err as an error in the command line, for which [Report]
// points to "help --help" ("" for the command itself, "NAME export"
// for a subcommand). The result wraps err and [ErrUsage].
func Usage(help string, err error) error { return &usageError{help: help, err: err} }

// packages are the prefixes with which the project's packages start
// their errors ("backend: …"): for a developer reading a chain of
// errors, not for the person running a command, who sees each message
// with the command's name in front.
var packages = []string{"logout", "backend", "proxy", "sqlitestore", "redisstore", "pgstore", "metrics"}

// Message returns err's message as a command shows it: without the
// project's package prefixes, at its start or after a ": ".
func Message(err error) string {
	segs := strings.Split(err.Error(), ": ")
	out := segs[:0]
	for _, s := range segs {
		drop := false
		for _, p := range packages {
			if s == p {
				drop = true
			}
		}
		if !drop {
			out = append(out, s)
		}
	}
	return strings.Join(out, ": ")
}

// Report writes err to w once, as the command name shows it: one line
// "name: message", and for an error in the command line a second line
// that points to the help. It writes nothing for a nil err.
func Report(w io.Writer, name string, err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(w, "%s: %s\n", name, Message(Explain(err)))
	var u *usageError
	if errors.As(err, &u) {
		help := u.help
		if help == "" {
			help = name
		}
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", help)
	}
}

// ExitCode is the status a command exits with after err: 0 for nil, 2
// for an error in the command line, 1 for others.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	return 1
}

// RedisLogs sends the log lines of the Redis client to logger, as
// warnings: go-redis writes them with the standard log package unless
// given a logger of its own, which it keeps in a package variable.
func RedisLogs(logger *slog.Logger) { redis.SetLogger(redisLogger{logger}) }

type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, "redis: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
}
