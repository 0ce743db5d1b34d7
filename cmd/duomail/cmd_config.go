package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/client/termtext"
	"github.com/spf13/cobra"
)

func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Set up the configuration file",
		Args:  noArgs,
	}
	cmd.AddCommand(newConfigInitCmd(a, nil))
	return cmd
}

type configInitOptions struct {
	app         *app
	Address     string
	Protocol    string
	Host        string
	Port        int
	TLS         string
	Username    string
	PasswordCmd string
	PasswordEnv string
	Name        string
	Yes         bool // no questions: defaults for what no flag gives
	NoTest      bool // do not try the login
	Append      bool // add the account to an existing file
}

func newConfigInitCmd(a *app, runF func(context.Context, *configInitOptions) error) *cobra.Command {
	opts := &configInitOptions{app: a}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a configuration file with one account, asking what is needed",
		Long: `Ask for an email address and what is needed to reach its mailbox, try the
login, and write the configuration file (mode 0600) with comments on
every key. A common provider (Gmail, Outlook.com, Fastmail, iCloud, Yahoo,
GMX, mailbox.org, Posteo) is recognised by the address's domain: its
servers are filled in, and you are told whether it wants an app password
or OAuth2 (which duomail cannot do). For another domain you are asked for
the server.

The password itself is never written: it comes from a command (such as
"pass show mail"), an environment variable, or a prompt each time.

An existing file is never overwritten: config init refuses, unless
--append adds the account to it.

Questions are read from standard input, a line each; a flag answers its
question beforehand. With --yes nothing is asked: what no flag gives takes
its default, and a question without one (the address; the server of an
unknown domain) is an error.`,
		Example: `  duomail config init
  duomail config init --address me@fastmail.com --password-cmd 'pass show mail/fastmail' --yes
  duomail config init --append --address me@example.org --host mail.example.org --protocol pop3 --name other`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			switch {
			case opts.PasswordCmd != "" && opts.PasswordEnv != "":
				return usageErrorf("give --password-cmd or --password-env, not both")
			case opts.Protocol != "" && opts.Protocol != client.IMAP && opts.Protocol != client.POP3:
				return usageErrorf(`--protocol %q: want "imap" or "pop3"`, opts.Protocol)
			case opts.TLS != "" && !validTLS(opts.TLS):
				return usageErrorf(`--tls %q: want "implicit", "starttls" or "none"`, opts.TLS)
			case opts.Port < 0 || opts.Port > 65535:
				return usageErrorf("--port %d is not a port number", opts.Port)
			case a.flags.url != "" || a.accountFlag:
				return usageErrorf("config init writes an account; it takes no --url or -a")
			}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runConfigInit(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&opts.Address, "address", "", "the email `address`")
	f.StringVar(&opts.Protocol, "protocol", "", `"imap" (mail stays on the server) or "pop3" (mail is downloaded)`)
	f.StringVar(&opts.Host, "host", "", "the server's `host` name (default: the provider's)")
	f.IntVar(&opts.Port, "port", 0, "the server's `port` (default: the provider's, or the protocol's for --tls)")
	f.StringVar(&opts.TLS, "tls", "", `"implicit" (default), "starttls" or "none"`)
	f.StringVar(&opts.Username, "username", "", "the login `name` (default: the address)")
	f.StringVar(&opts.PasswordCmd, "password-cmd", "", "a `command` that prints the password (password_cmd)")
	f.StringVar(&opts.PasswordEnv, "password-env", "", "an environment `variable` holding the password (password_env)")
	f.StringVar(&opts.Name, "name", "", "the account's `name` in the configuration (default: from the domain)")
	f.BoolVarP(&opts.Yes, "yes", "y", false, "ask nothing: defaults for what no flag gives")
	f.BoolVar(&opts.NoTest, "no-test", false, "write the configuration without trying the login")
	f.BoolVar(&opts.Append, "append", false, "add the account to an existing configuration file")
	return cmd
}

func validTLS(s string) bool {
	switch client.TLSMode(s) {
	case client.TLSImplicit, client.TLSStartTLS, client.TLSNone:
		return true
	}
	return false
}

// configFilePath is the file config init writes: the one every other
// command reads.
func (a *app) configFilePath() string {
	if a.flags.config != "" {
		return a.flags.config
	}
	if p := a.env("DUOMAIL_CONFIG"); p != "" {
		return p
	}
	return defaultPaths(a.getenv).ConfigFile
}

// asker asks one question at a time on stderr and reads the answer, a
// line, from stdin. With yes set it asks nothing and takes the default.
type asker struct {
	in  *bufio.Reader
	out io.Writer
	yes bool
}

// errNoAnswer: stdin ended before a question was answered.
var errNoAnswer = errors.New("no answer (end of input)")

// ask returns the answer, or def for an empty one. A question with no
// default is asked again until answered.
func (q *asker) ask(question, def, flag string) (string, error) {
	return q.askAbout(question, question, def, flag)
}

// askAbout is ask with the prompt shown apart from what the question is
// about, for errors.
func (q *asker) askAbout(prompt, question, def, flag string) (string, error) {
	if q.yes {
		if def == "" {
			return "", usageErrorf("--yes: %s has no default; give %s", question, flag)
		}
		return def, nil
	}
	for {
		if def != "" {
			fmt.Fprintf(q.out, "%s [%s]: ", prompt, termtext.Field(def))
		} else {
			fmt.Fprintf(q.out, "%s: ", prompt)
		}
		line, err := q.in.ReadString('\n')
		if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
			if errors.Is(err, io.EOF) {
				fmt.Fprintln(q.out)
				return "", fmt.Errorf("%s: %w; to answer with flags instead, give %s (see --help)", question, errNoAnswer, flag)
			}
			return "", fmt.Errorf("read the answer: %w", err)
		}
		line = strings.TrimSpace(line)
		switch {
		case line != "":
			return line, nil
		case def != "":
			return def, nil
		}
	}
}

// choice is one numbered answer.
type choice struct {
	key   string
	label string
}

// choose offers numbered choices and returns the key of the one taken; a
// key typed in full is taken too.
func (q *asker) choose(question string, choices []choice, def string, flag string) (string, error) {
	if !q.yes {
		fmt.Fprintln(q.out, question)
		for i, c := range choices {
			fmt.Fprintf(q.out, "  %d) %s\n", i+1, c.label)
		}
	}
	defNum := ""
	for i, c := range choices {
		if c.key == def {
			defNum = strconv.Itoa(i + 1)
		}
	}
	for {
		ans, err := q.askAbout("Choose", strings.TrimSuffix(question, ":"), defNum, flag)
		if err != nil {
			return "", err
		}
		if n, err := strconv.Atoi(ans); err == nil && n >= 1 && n <= len(choices) {
			return choices[n-1].key, nil
		}
		for _, c := range choices {
			if strings.EqualFold(ans, c.key) {
				return c.key, nil
			}
		}
		fmt.Fprintf(q.out, "Please answer 1 to %d.\n", len(choices))
	}
}

// confirm asks a yes/no question.
func (q *asker) confirm(question string, def bool) (bool, error) {
	d := "n"
	if def {
		d = "y"
	}
	for {
		ans, err := q.ask(question+" (y/n)", d, "--no-test")
		if err != nil {
			return false, err
		}
		switch strings.ToLower(ans) {
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
	}
}

// addressRE is loose on purpose: one @, something either side, no space.
var addressRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// Where mail lives, in one line per protocol.
const (
	imapMeans = "IMAP  mail stays on the server, in folders; every device sees the same mailbox and flags"
	pop3Means = "POP3  mail is downloaded into duomail's local cache; the server has the inbox only (copies kept there unless you say otherwise)"
)

func runConfigInit(ctx context.Context, opts *configInitOptions) error {
	a := opts.app
	path := a.configFilePath()
	var existing *Config
	switch _, err := os.Stat(path); {
	case err == nil && !opts.Append:
		return fmt.Errorf("config init: %s already exists, and config init never overwrites it: edit it, or add the account to it with --append", path)
	case err == nil:
		cfg, err := config.Load(config.Options{File: path, Warn: a.warn}, a.getenv)
		if err != nil {
			return fmt.Errorf("config init --append: %w", err)
		}
		existing = cfg
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("config init: %w", err)
	case opts.Append:
		return fmt.Errorf("config init --append: %s does not exist; leave out --append to create it", path)
	}
	q := &asker{in: bufio.NewReader(a.io.in), out: a.io.err, yes: opts.Yes}
	say := func(format string, args ...any) {
		if !opts.Yes || a.io.errTTY {
			fmt.Fprintf(q.out, format+"\n", args...)
		}
	}
	if existing != nil {
		say("Adding an account to %s.", path)
	} else {
		say("Writing a new configuration: %s", path)
	}

	addr := opts.Address
	for {
		if addr == "" {
			var err error
			if addr, err = q.ask("Email address", "", "--address"); err != nil {
				return err
			}
		}
		if addressRE.MatchString(addr) {
			break
		}
		if opts.Yes || opts.Address != "" {
			return usageErrorf("%q is not an email address", addr)
		}
		say("%q is not an email address (like me@example.org).", addr)
		addr = ""
	}
	domain := strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
	prov := config.LookupProvider(addr)
	if prov != nil {
		servers := fmt.Sprintf("IMAP %s:%d", prov.IMAP.Host, prov.IMAP.Port)
		if prov.POP3 != nil {
			servers += fmt.Sprintf(", POP3 %s:%d", prov.POP3.Host, prov.POP3.Port)
		}
		say("%s: %s.", prov.Name, servers)
		say("%s.", prov.Note)
		if prov.Login == config.LoginOAuth2 {
			a.warn(prov.Name + " accepts only OAuth2 sign-in, which duomail does not do yet; the login test will most likely fail")
		}
	}

	protocol := opts.Protocol
	if protocol == "" {
		if prov != nil && prov.POP3 == nil {
			protocol = client.IMAP
			say("%s has IMAP only.", prov.Name)
		} else {
			var err error
			protocol, err = q.choose("Protocol:", []choice{{client.IMAP, imapMeans}, {client.POP3, pop3Means}}, client.IMAP, "--protocol")
			if err != nil {
				return err
			}
		}
	}

	// The server: the provider's unless a flag says otherwise; asked for
	// an unknown domain.
	var srv config.Server
	known := false
	if prov != nil {
		srv, known = prov.Server(protocol)
		if !known && opts.Host == "" {
			return usageErrorf("%s has no %s server; choose --protocol imap", prov.Name, strings.ToUpper(protocol))
		}
	}
	if opts.Host != "" {
		srv, known = config.Server{Host: opts.Host}, false
	}
	if opts.TLS != "" {
		if client.TLSMode(opts.TLS) != srv.TLS {
			srv.Port = 0 // the provider's port goes with its TLS mode
		}
		srv.TLS = client.TLSMode(opts.TLS)
	}
	if srv.Host == "" {
		guess := ""
		if !opts.Yes {
			guess = map[string]string{client.IMAP: "imap.", client.POP3: "pop."}[protocol] + domain
			say("duomail does not know the servers of %s.", termtext.Field(domain))
		}
		h, err := q.ask(strings.ToUpper(protocol)+" server", guess, "--host")
		if err != nil {
			return err
		}
		srv.Host = h
	}
	if srv.TLS == "" {
		if known {
			srv.TLS = client.TLSImplicit
		} else {
			t, err := q.choose("Encryption:", []choice{
				{string(client.TLSImplicit), "implicit  TLS from the first byte (ports 993, 995)"},
				{string(client.TLSStartTLS), "starttls  plain connection upgraded with STARTTLS (ports 143, 110)"},
				{string(client.TLSNone), "none      no encryption: the password travels in clear"},
			}, string(client.TLSImplicit), "--tls")
			if err != nil {
				return err
			}
			srv.TLS = client.TLSMode(t)
		}
	}
	if opts.Port != 0 {
		srv.Port = opts.Port
	}
	if srv.Port == 0 {
		def := client.DefaultPort(protocol, srv.TLS)
		if known {
			srv.Port = def
		} else {
			for {
				p, err := q.ask("Port", strconv.Itoa(def), "--port")
				if err != nil {
					return err
				}
				if n, err := strconv.Atoi(p); err == nil && n >= 1 && n <= 65535 {
					srv.Port = n
					break
				}
				if opts.Yes {
					return usageErrorf("%q is not a port number", p)
				}
				say("%q is not a port number.", p)
			}
		}
	}

	username := opts.Username
	if username == "" {
		var err error
		if username, err = q.ask("User name", addr, "--username"); err != nil {
			return err
		}
	}

	nac := config.NewAccount{Protocol: protocol, Host: srv.Host, Port: srv.Port, TLS: srv.TLS, Username: username,
		PasswordCmd: opts.PasswordCmd, PasswordEnv: opts.PasswordEnv}
	if prov != nil {
		nac.About = prov.Name + ". " + prov.Note + "."
	}
	if nac.PasswordCmd == "" && nac.PasswordEnv == "" {
		if err := askPasswordSource(q, &nac, prov, defaultAccountName(prov, domain)); err != nil {
			return err
		}
	}
	name, err := accountName(q, opts, prov, domain, existing, say)
	if err != nil {
		return err
	}
	nac.Name = name

	// A new file gets a header; an existing one the account at its end.
	block := config.AccountTOML(nac)
	content := config.FileHeader(name, time.Now()) + block
	if existing != nil {
		old, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config init --append: %w", err)
		}
		if len(old) > 0 && old[len(old)-1] != '\n' {
			block = "\n" + block
		}
		content = string(old) + block
	}
	// What is written must load as every command will load it; checked
	// on a copy, so a mistake leaves the real file untouched.
	cfg, err := checkConfig(a, content)
	if err != nil {
		return fmt.Errorf("config init: the configuration would not load: %w", err)
	}
	ac := cfg.Accounts[name]
	if ac == nil {
		return fmt.Errorf("config init: account %s is missing from what would be written", name)
	}

	if !opts.NoTest {
		say("Trying the login to %s:%d (%s) ...", ac.Host, ac.Port, strings.ToUpper(protocol))
		if err := a.tryLogin(ctx, ac); err != nil {
			if opts.Yes || ctx.Err() != nil {
				return fmt.Errorf("config init: login test failed, nothing written (--no-test writes it untried): %w", err)
			}
			fmt.Fprintf(q.out, "The login failed: %s\n", errorMessage(err))
			write, cerr := q.confirm("Write the configuration anyway?", false)
			if cerr != nil {
				return cerr
			}
			if !write {
				return fmt.Errorf("config init: nothing written: %w", err)
			}
		} else {
			say("Logged in.")
		}
	}

	if existing != nil {
		err = appendConfigFile(path, block)
	} else {
		err = createConfigFile(path, content)
	}
	if err != nil {
		return fmt.Errorf("config init: %w", err)
	}
	if existing == nil {
		fmt.Fprintf(a.io.out, "Wrote %s\n", path)
		say("Try: duomail list")
		return nil
	}
	fmt.Fprintf(a.io.out, "Added account %s to %s\n", name, path)
	if existing.Default != "" && cfg.Default == "" {
		// The one account was the default by being alone.
		a.warn(fmt.Sprintf("%s has no default account now that it has two: commands need -a, or add default = %q at its top", path, existing.Default))
	}
	say("Try: duomail -a %s list", name)
	return nil
}

// accountName asks for, or checks, the account's name.
func accountName(q *asker, opts *configInitOptions, prov *config.Provider, domain string, existing *Config, say func(string, ...any)) (string, error) {
	def := defaultAccountName(prov, domain)
	taken := func(n string) bool { return existing != nil && existing.Accounts[n] != nil }
	for n := 2; taken(def); n++ {
		def = fmt.Sprintf("%s%d", defaultAccountName(prov, domain), n)
	}
	name := opts.Name
	for {
		if name == "" {
			var err error
			if name, err = q.ask("Account name", def, "--name"); err != nil {
				return "", err
			}
		}
		err := config.CheckAccountName(name)
		if err == nil && taken(name) {
			err = fmt.Errorf("the configuration already has an account %q", name)
		}
		if err == nil {
			return name, nil
		}
		if opts.Yes || opts.Name != "" {
			return "", usageErrorf("account name %q: %v", name, err)
		}
		say("%v.", err)
		name = ""
	}
}

// defaultAccountName is the provider's name or the domain's first label,
// as an account name may be written.
func defaultAccountName(prov *config.Provider, domain string) string {
	from := domain
	if prov != nil {
		from = prov.Name
	}
	// The first word: "Outlook.com / Microsoft 365" gives outlook.
	words := strings.FieldsFunc(strings.ToLower(from), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	})
	if len(words) == 0 || config.CheckAccountName(words[0]) != nil {
		return "mail"
	}
	return words[0]
}

// askPasswordSource asks where the password comes from. The password
// itself is never asked for here, nor written.
func askPasswordSource(q *asker, nac *config.NewAccount, prov *config.Provider, name string) error {
	what := "password"
	if prov != nil && prov.Login == config.LoginAppPassword {
		what = "app password"
	}
	src, err := q.choose("Where does duomail get the "+what+"?", []choice{
		{"prompt", "asked on the terminal each time (nothing stored)"},
		{"cmd", "from a command that prints it, such as a password manager: pass show mail (password_cmd)"},
		{"env", "from an environment variable (password_env)"},
	}, "prompt", "--password-cmd or --password-env")
	if err != nil {
		return err
	}
	switch src {
	case "cmd":
		nac.PasswordCmd, err = q.ask("Command", "", "--password-cmd")
	case "env":
		nac.PasswordEnv, err = q.ask("Variable", strings.ToUpper(strings.ReplaceAll(name, "-", "_"))+"_MAIL_PASSWORD", "--password-env")
	}
	return err
}

// checkConfig loads content as the configuration file would be loaded,
// from a private copy.
func checkConfig(a *app, content string) (*Config, error) {
	dir, err := os.MkdirTemp("", "duomail-config-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		return nil, err
	}
	return config.Load(config.Options{File: file}, a.getenv)
}

// tryLogin dials the account with its driver and logs in, as any command
// would, and leaves again.
func (a *app) tryLogin(ctx context.Context, ac *AccountConfig) error {
	drv, ok := drivers[ac.Protocol]
	if !ok {
		return fmt.Errorf("no driver for protocol %q", ac.Protocol)
	}
	opts := client.DialOptions{Warn: a.warn}
	if a.flags.debug {
		opts.Debug = termtext.NewWriter(a.io.err, false)
	}
	// Nothing is cached by a login; the cache directory is not created.
	src, err := drv.Dial(ctx, ac.Client(os.TempDir(), a.passwordFunc(ac)), opts)
	if err != nil {
		return err
	}
	return src.Close()
}

// createConfigFile creates the file, private, failing if it appeared
// meanwhile.
func createConfigFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s appeared meanwhile; it is left as it is", path)
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // half a configuration is worse than none
	}
	return err
}

// appendConfigFile adds an account's table at the end of the file,
// which stays the same file (a link to it stays a link).
func appendConfigFile(path, block string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(block)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
