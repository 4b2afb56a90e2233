// Package admin holds the project's commands' "sessions" and "tokens"
// subcommands, which both commands share as they share "export" (see
// package audit): they work on the data directory and the store that the
// server uses, found by the same flags and variables, also while the
// server runs.
//
// Exit codes, for scripts: 0 done, 1 failure (the store or users.db
// failed, or the token named does not exist), 2 an error in the command
// line (a missing, unknown or conflicting flag, or "sessions end --all"
// without --yes and no terminal to ask on). "sessions end" exits 0 when
// nothing matched, and prints how many sessions ended ("0 sessions
// ended").
package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/audit"
	"github.com/gologout/logout/cmd/internal/backend"
	"github.com/gologout/logout/cmd/internal/serve"
	"github.com/gologout/logout/proxy"
)

// IO is what a subcommand reads and writes: stdin is asked for
// confirmation when Terminal reports that it is a terminal.
type IO struct {
	Stdin    io.Reader
	Stdout   io.Writer
	Terminal func() bool
}

// StdIO is the process's standard input and output.
func StdIO(stdout io.Writer) IO {
	return IO{Stdin: os.Stdin, Stdout: stdout, Terminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }}
}

const sessionsUsage = `Usage: %[1]s sessions list [--user USER] [--address ADDR] [--order active|newest|oldest|ending] [--json]
       %[1]s sessions end --user USER | --session ID | --all [--except ID] [--reason forced|manual] [--yes]

Lists or ends the sessions in the server's store (--store, --data, as for
the server), also while it runs: the server's open pages learn of an end
at once with PostgreSQL, Redis, MySQL and SQLite (the stores' watchers).
"end" takes exactly one of --user, --session and --all; --all asks for
confirmation on a terminal and needs --yes otherwise. It prints how many
sessions ended and exits 0 even when none matched; 1 on a failure, 2 on
an error in the command line.

  %[1]s sessions list --order active
  %[1]s sessions list --user alice --json
  %[1]s sessions end --user alice
  %[1]s sessions end --all --yes

Flags:
`

// storeFlags are the flags that find the store, as the server's.
type storeFlags struct{ store, data string }

func (s *storeFlags) register(fs *flag.FlagSet, c serve.Command, getenv func(string) string) {
	fs.StringVar(&s.store, "store", serve.Env(getenv, "LOGOUT_STORE", "sqlite"), "session `store`, as for the server (LOGOUT_STORE)")
	fs.StringVar(&s.data, "data", serve.Env(getenv, "LOGOUT_DATA", c.Data), "data `directory`, as for the server (LOGOUT_DATA)")
}

// open opens the store and a Manager on it, and the user names.
func (s storeFlags) open(ctx context.Context) (*logout.Manager, map[string]string, func() error, error) {
	names, err := backend.UserNames(ctx, s.data)
	if err != nil {
		return nil, nil, nil, err
	}
	st, closeStore, err := serve.OpenStore(ctx, s.store, s.data)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := logout.New(st, logout.Options{})
	if err != nil {
		closeStore()
		return nil, nil, nil, err
	}
	return m, names, closeStore, nil
}

// parse parses args into fs, splitting off the action (the first
// argument) and printing usage for --help; help reports that it did.
func parse(fs *flag.FlagSet, args []string, usage func(io.Writer), stdout io.Writer) (action string, help bool, err error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	err = fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return action, true, nil
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return action, false, err
}

func flagSet(name string, usageText string, cmd string) (*flag.FlagSet, func(io.Writer)) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, func(w io.Writer) {
		fmt.Fprintf(w, usageText, cmd)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// Sessions runs "c.Name sessions list|end" with the arguments after
// "sessions". Errors in the command line wrap [serve.ErrUsage].
func Sessions(ctx context.Context, c serve.Command, args []string, getenv func(string) string, io IO) error {
	help := c.Name + " sessions"
	fs, usage := flagSet(help, sessionsUsage, c.Name)
	var sf storeFlags
	sf.register(fs, c, getenv)
	var f backend.SessionFilter
	if c.Name == "logout-proxy" {
		f.PanelUser = proxy.PanelUser
	}
	fs.StringVar(&f.User, "user", "", "`user`: a backend user's name, a session's user ID, or behind logout-proxy a panel user's name")
	fs.StringVar(&f.Address, "address", "", "list: sessions from this client `address`")
	fs.StringVar(&f.Order, "order", "oldest", "list: `order` oldest (sign-in), newest, active (latest activity first) or ending (earliest deadline first)")
	asJSON := fs.Bool("json", false, "list: write JSON, one object with the sessions and the total")
	session := fs.String("session", "", "end: the session of this `ID` (as listed)")
	all := fs.Bool("all", false, "end: every session")
	except := fs.String("except", "", "end: keep the session of this `ID`")
	reason := fs.String("reason", "forced", "end: the `reason` in the sign-out log: forced (an administrator ended them) or manual (the user signed out)")
	yes := fs.Bool("yes", false, "end --all: do not ask for confirmation")
	action, helped, err := parse(fs, args, usage, io.Stdout)
	if helped {
		return nil
	}
	if err == nil {
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		switch action {
		case "list":
			for _, n := range []string{"session", "all", "except", "reason", "yes"} {
				if set[n] {
					err = fmt.Errorf("--%s is for sessions end", n)
				}
			}
			if err == nil {
				_, err = backend.ParseOrder(f.Order)
			}
		case "end":
			for _, n := range []string{"address", "order", "json"} {
				if set[n] {
					err = fmt.Errorf("--%s is for sessions list", n)
				}
			}
		default:
			err = fmt.Errorf("want list or end, not %q", action)
		}
	}
	var sel logout.Selector
	var rsn logout.Reason
	if err == nil && action == "end" {
		// The selector is checked before anything is opened; the user's
		// name is resolved below.
		if sel, rsn, err = backend.EndSelector(*session, f.User, *all, *except, *reason, nil, nil); err != nil {
			err = fmt.Errorf("%w (--user, --session or --all)", err)
		}
	}
	if err == nil && action == "end" && *all && !*yes && !io.Terminal() {
		err = errors.New("--all ends every session: add --yes to confirm when not on a terminal")
	}
	if err != nil {
		return serve.Usage(help, fmt.Errorf("sessions: %w", err))
	}
	m, names, closeStore, err := sf.open(ctx)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	defer closeStore()
	if action == "list" {
		return list(ctx, m, names, f, *asJSON, io.Stdout)
	}
	if sel.UserID != "" {
		sel.UserID = backend.ResolveUser(f.User, names, f.PanelUser)
	}
	if *all && !*yes {
		n, err := m.CountSessions(ctx, logout.ListOptions{})
		if err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
		fmt.Fprintf(io.Stdout, "End all %d sessions? Type yes to confirm: ", n)
		line, _ := bufio.NewReader(io.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			return errors.New("sessions: not confirmed; nothing ended")
		}
	}
	evs, err := m.EndSessions(ctx, sel, rsn)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	s := "s"
	if len(evs) == 1 {
		s = ""
	}
	fmt.Fprintf(io.Stdout, "%d session%s ended\n", len(evs), s)
	return nil
}

// listPage is how many sessions list reads at a time.
const listPage = 500

// list writes the sessions that f selects, a page at a time.
func list(ctx context.Context, m *logout.Manager, names map[string]string, f backend.SessionFilter, asJSON bool, w io.Writer) error {
	opts, err := f.Options(names)
	if err != nil {
		return serve.Usage("", err)
	}
	total, err := m.CountSessions(ctx, opts)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	if asJSON {
		fmt.Fprint(bw, `{"sessions":[`)
	} else {
		fmt.Fprintln(tw, "ID\tUSER\tADDRESS\tCREATED\tLAST SEEN\tDEADLINE\tUSER AGENT")
	}
	opts.Limit = listPage
	n := 0
	for {
		page, err := m.Sessions(ctx, opts)
		if err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
		for _, s := range page {
			j := backend.SessionOf(s, names)
			if asJSON {
				b, err := json.Marshal(j)
				if err != nil {
					return err
				}
				if n > 0 {
					bw.WriteByte(',')
				}
				bw.WriteString("\n")
				bw.Write(b)
			} else {
				t := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.User, j.Address, t(j.Created), t(j.LastSeen), t(j.Deadline), oneLine(j.UserAgent))
			}
			n++
		}
		if len(page) < opts.Limit {
			break
		}
		opts.After = logout.CursorOf(page[len(page)-1])
	}
	if asJSON {
		fmt.Fprintf(bw, "\n],\"total\":%d}\n", total)
		return nil
	}
	tw.Flush()
	fmt.Fprintf(bw, "%d sessions\n", n)
	return nil
}

// oneLine keeps a user agent, which the client chose, on its line of the
// table.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

const tokensUsage = `Usage: %[1]s tokens create --name NAME --scope read|write [--expires 720h]
       %[1]s tokens list [--json]
       %[1]s tokens revoke NAME|ID

Manages the bearer tokens of the admin API (<admin prefix>/api/v1, see
<admin prefix>/api/openapi.json) in the data directory's users.db, also
while the server runs, which accepts or refuses a token from its next
request on. A read token lists sessions and reads the settings and the
logs; a write token also ends sessions and changes the settings. "create"
prints the token once: only its SHA-256 is kept. Exit codes: 0 done, 1 a
failure (such as a name taken or no such token), 2 an error in the
command line.

  TOKEN=$(%[1]s tokens create --name deploy --scope write --expires 720h)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/backend/api/v1/sessions

Flags:
`

// Tokens runs "c.Name tokens create|list|revoke" with the arguments after
// "tokens". Errors in the command line wrap [serve.ErrUsage].
func Tokens(ctx context.Context, c serve.Command, args []string, getenv func(string) string, stdout io.Writer) error {
	help := c.Name + " tokens"
	fs, usage := flagSet(help, tokensUsage, c.Name)
	data := fs.String("data", serve.Env(getenv, "LOGOUT_DATA", c.Data), "data `directory`, as for the server (LOGOUT_DATA)")
	name := fs.String("name", "", "create: the token's `name`, unique, such as the script or person that uses it")
	scope := fs.String("scope", "", "create: `read` or write")
	expires := fs.Duration("expires", 0, "create: how long the token is valid, a `duration` such as 720h; default until revoked")
	asJSON := fs.Bool("json", false, "list: write JSON")
	action, target := "", ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	// revoke takes NAME|ID before or after the flags.
	if action == "revoke" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		target, args = args[0], args[1:]
	}
	_, helped, err := parse(fs, args, usage, stdout)
	if helped {
		return nil
	}
	if err != nil && action == "revoke" && target == "" && fs.NArg() == 1 {
		target, err = fs.Arg(0), nil
	}
	if err == nil {
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		only := func(action string, names ...string) {
			for _, n := range names {
				if set[n] && err == nil {
					err = fmt.Errorf("--%s is for tokens %s", n, action)
				}
			}
		}
		switch action {
		case "create":
			only("list", "json")
			switch {
			case *name == "":
				err = errors.New("create needs --name")
			case *scope != backend.ScopeRead && *scope != backend.ScopeWrite:
				err = fmt.Errorf("--scope %q: want read or write", *scope)
			case *expires < 0:
				err = fmt.Errorf("--expires %v: want a positive duration such as 720h", *expires)
			}
		case "list":
			only("create", "name", "scope", "expires")
		case "revoke":
			only("create", "name", "scope", "expires")
			only("list", "json")
			if target == "" && err == nil {
				err = errors.New("revoke needs the token's name or ID")
			}
		default:
			err = fmt.Errorf("want create, list or revoke, not %q", action)
		}
	}
	if err != nil {
		return serve.Usage(help, fmt.Errorf("tokens: %w", err))
	}
	if err := c.ClaimData(*data); err != nil {
		return err
	}
	switch action {
	case "create":
		tok, secret, err := backend.CreateToken(ctx, *data, *name, *scope, *expires)
		if err != nil {
			return fmt.Errorf("tokens: %w", serve.Explain(err))
		}
		// The token alone on stdout, for TOKEN=$(…); the rest on stderr
		// would be lost in a script, so it is not printed at all.
		_ = tok
		fmt.Fprintln(stdout, secret)
		return nil
	case "revoke":
		tok, err := backend.RevokeToken(ctx, *data, target)
		if err != nil {
			return fmt.Errorf("tokens: %w", serve.Explain(err))
		}
		fmt.Fprintf(stdout, "revoked token %s (%s)\n", tok.Name, tok.ID)
		return nil
	}
	list, err := backend.Tokens(ctx, *data)
	if err != nil {
		return fmt.Errorf("tokens: %w", serve.Explain(err))
	}
	if *asJSON {
		if list == nil {
			list = []backend.Token{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tEXPIRES\tLAST USED")
	now := time.Now()
	for _, t := range list {
		exp := "never"
		if !t.Expires.IsZero() {
			exp = t.Expires.Local().Format("2006-01-02 15:04")
			if t.Expired(now) {
				exp += " (expired)"
			}
		}
		used := "never"
		if !t.LastUsed.IsZero() {
			used = t.LastUsed.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, oneLine(t.Name), t.Scope, t.Created.Local().Format("2006-01-02 15:04"), exp, used)
	}
	return tw.Flush()
}

// Subcommand runs the subcommand that args name, one that both commands
// share ("export", "reset-password", "sessions" or "tokens"), and reports
// whether args named one; when not, the caller parses args as the
// server's flags.
func Subcommand(ctx context.Context, c serve.Command, args []string, getenv func(string) string, stdout io.Writer) (bool, error) {
	if len(args) == 0 {
		return false, nil
	}
	switch args[0] {
	case "export":
		return true, audit.Export(ctx, c, args[1:], getenv, stdout)
	case "reset-password":
		return true, c.ResetPassword(ctx, args[1:], getenv, os.Stdin, stdout)
	case "sessions":
		return true, Sessions(ctx, c, args[1:], getenv, StdIO(stdout))
	case "tokens":
		return true, Tokens(ctx, c, args[1:], getenv, stdout)
	}
	return false, nil
}
