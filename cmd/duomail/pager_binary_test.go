package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/imapsrc/imaptest"
)

// pagerMail starts an IMAP server with a message far longer than a
// screen (and than a pipe's buffer) and a short one.
func pagerMail(t *testing.T) (url string, long, short string) {
	t.Helper()
	srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var body strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&body, "line %d of a long message, long enough to fill pipes\r\n", i)
	}
	msg := func(subject, body string) []byte {
		return []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: " + subject +
			"\r\nDate: Mon, 02 Jan 2023 15:04:05 +0000\r\nContent-Type: text/plain\r\n\r\n" + body)
	}
	date := time.Date(2023, 1, 2, 15, 4, 5, 0, time.UTC)
	if err := srv.Append("alice", "INBOX", msg("Long", body.String()), nil, date); err != nil {
		t.Fatal(err)
	}
	if err := srv.Append("alice", "INBOX", msg("Short", "just this\r\n"), nil, date.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if err := srv.Append("alice", "INBOX", msg(fmt.Sprintf("Filler %d", i), "x\r\n"), nil, date.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	return imapURL(srv.Port()), "1", "2"
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// On a terminal, output longer than the screen goes through the pager
// chosen as git chooses (DUOMAIL_PAGER, the configuration, PAGER, less);
// short output, piped output, --no-pager and an empty choice print
// directly; leaving the pager early is no failure.
func TestBinaryPager(t *testing.T) {
	t.Parallel()
	url, long, short := pagerMail(t)
	dir := t.TempDir()
	// The fake pager says it ran and with what LESS, then shows its input.
	fake := writeScript(t, filepath.Join(dir, "fake-pager"), `echo "PAGER-START LESS=$LESS"; cat; echo PAGER-END`+"\n")
	quitter := writeScript(t, filepath.Join(dir, "quitter"), "head -c 100 >/dev/null; echo PAGER-QUIT\n")
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o700)
	writeScript(t, filepath.Join(bin, "less"), `echo "LESS-START $*"; cat; echo LESS-END`+"\n")

	type tc struct {
		name    string
		env     map[string]string
		config  string
		args    []string
		tty     bool
		paged   string // what the pager printed first; "" for no pager
		lastOut string
	}
	fetchLong := []string{"--url", url, "fetch", "--peek", long}
	cases := []tc{
		{name: "DUOMAIL_PAGER on a terminal", env: map[string]string{"DUOMAIL_PAGER": fake}, args: fetchLong, tty: true, paged: "PAGER-START LESS=FRX\n", lastOut: "line 5000 of a long message, long enough to fill pipes\nPAGER-END\n"},
		{name: "the user's LESS is kept", env: map[string]string{"DUOMAIL_PAGER": fake, "LESS": "R"}, args: fetchLong, tty: true, paged: "PAGER-START LESS=R\n"},
		{name: "short output is not paged", env: map[string]string{"DUOMAIL_PAGER": fake}, args: []string{"--url", url, "fetch", "--peek", short}, tty: true, lastOut: "just this\n"},
		{name: "piped output is not paged", env: map[string]string{"DUOMAIL_PAGER": fake}, args: fetchLong, lastOut: "line 5000 of a long message, long enough to fill pipes\n"},
		{name: "--no-pager", env: map[string]string{"DUOMAIL_PAGER": fake}, args: append([]string{"--no-pager"}, fetchLong...), tty: true, lastOut: "line 5000 of a long message, long enough to fill pipes\n"},
		{name: "the configuration's pager", env: map[string]string{"DUOMAIL_PAGER": envUnset, "PAGER": "cat"}, config: fmt.Sprintf("pager = %q\n", fake), args: fetchLong, tty: true, paged: "PAGER-START"},
		{name: "pager = \"\" in the configuration turns it off", env: map[string]string{"DUOMAIL_PAGER": envUnset, "PAGER": fake}, config: "pager = \"\"\n", args: fetchLong, tty: true, lastOut: "line 5000 of a long message, long enough to fill pipes\n"},
		{name: "PAGER", env: map[string]string{"DUOMAIL_PAGER": envUnset, "PAGER": fake}, args: fetchLong, tty: true, paged: "PAGER-START"},
		{name: "less when nothing is chosen", env: map[string]string{"DUOMAIL_PAGER": envUnset, "PAGER": envUnset, "PATH": bin + ":" + os.Getenv("PATH")}, args: fetchLong, tty: true, paged: "LESS-START \n"},
		{name: "DUOMAIL_PAGER empty turns it off", env: map[string]string{"DUOMAIL_PAGER": "", "PAGER": fake}, args: fetchLong, tty: true, lastOut: "line 5000 of a long message, long enough to fill pipes\n"},
		{name: "list pages too", env: map[string]string{"DUOMAIL_PAGER": fake}, args: []string{"--url", url, "list", "--limit", "0"}, tty: true, paged: "PAGER-START"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			c.env["DUOMAIL_PASSWORD"] = "secret"
			for k, v := range tc.env {
				c.env[k] = v
			}
			if tc.config != "" {
				c.writeConfig(tc.config)
			}
			r := c.runChecked(runOptions{tty: tc.tty}, tc.args...)
			out := strings.ReplaceAll(r.stdout.String(), "\r\n", "\n")
			if r.code != 0 || r.stderr.String() != "" {
				t.Fatalf("want exit 0, nothing on stderr: %v", r)
			}
			switch {
			case tc.paged != "" && !strings.HasPrefix(out, tc.paged):
				t.Errorf("not paged through %q: %.300s", tc.paged, out)
			case tc.paged == "" && (strings.Contains(out, "PAGER-") || strings.Contains(out, "LESS-")):
				t.Errorf("paged: %.300s", out)
			}
			if tc.lastOut != "" && !strings.HasSuffix(out, tc.lastOut) {
				t.Errorf("output does not end with %q: ...%s", tc.lastOut, out[max(0, len(out)-300):])
			}
			if tc.paged != "" && tc.args[2] == "fetch" && !strings.Contains(out, "\nline 1 of a long message") {
				t.Errorf("the pager did not get the start of the text: %.300s", out)
			}
		})
	}

	t.Run("leaving the pager early is no failure", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		c.env["DUOMAIL_PASSWORD"] = "secret"
		c.env["DUOMAIL_PAGER"] = quitter
		r := c.runChecked(runOptions{tty: true}, fetchLong...)
		if r.code != 0 || r.stderr.String() != "" || !strings.Contains(r.stdout.String(), "PAGER-QUIT") {
			t.Errorf("want exit 0, the pager's word, nothing on stderr: %v", r)
		}
		if strings.Contains(r.stdout.String(), "line 5000") {
			t.Errorf("the text went past the pager: %v", r)
		}
	})
}

// The terminal's locale decides the charset text reaches it in: Latin-1
// under de_DE.ISO-8859-1 (characters it lacks transliterated), ASCII
// under C; LC_ALL before LC_CTYPE before LANG; piped output and JSON
// stay UTF-8 (JSON on such a terminal escaped). Unseen mail is bold in
// list on a colour terminal, not with NO_COLOR or piped.
func TestBinaryTerminalLocaleAndBold(t *testing.T) {
	t.Parallel()
	srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	date := time.Date(2023, 1, 2, 15, 4, 5, 0, time.UTC)
	ids := map[string]string{}
	for i, m := range readerCorpus() {
		if m.name != "latin1" && m.name != "windows-1252" {
			continue
		}
		var flags []string
		if m.name == "windows-1252" {
			flags = []string{`\Seen`}
		}
		if err := srv.Append("alice", "INBOX", m.raw, flags, date.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
		ids[m.name] = fmt.Sprint(len(ids) + 1)
	}
	url := imapURL(srv.Port())
	const (
		utf8Text   = "Grüße aus Köln: Käse, Spätzle, Crème brûlée.\n"
		utf8Quotes = "“Quoted” – costs 5 € … done.\n"
	)
	for _, tc := range []struct {
		name string
		env  map[string]string
		tty  bool
		args []string
		want []string
		not  []string
	}{
		{"Latin-1 terminal", map[string]string{"LC_ALL": "de_DE.ISO-8859-1"}, true, []string{"fetch", "--peek", ids["latin1"]},
			[]string{"Gr\xfc\xdfe aus K\xf6ln: K\xe4se, Sp\xe4tzle, Cr\xe8me br\xfbl\xe9e.\n", "Subject: Men\xfc f\xfcr heute\n"}, []string{"ü"}},
		{"Latin-1 transliterates what it lacks", map[string]string{"LANG": "de_DE.iso88591"}, true, []string{"fetch", "--peek", ids["windows-1252"]},
			[]string{"\"Quoted\" - costs 5 EUR ... done.\n"}, []string{"€"}},
		{"C is ASCII", map[string]string{"LANG": "C"}, true, []string{"fetch", "--peek", ids["latin1"]},
			[]string{"Grusse aus Koln: Kase, Spatzle, Creme brulee.\n", "From:    Jurgen Muller <juergen@example.de>\n"}, nil},
		{"LC_ALL before LANG", map[string]string{"LC_ALL": "C.UTF-8", "LANG": "C"}, true, []string{"fetch", "--peek", ids["latin1"]}, []string{utf8Text}, nil},
		{"LC_CTYPE before LANG", map[string]string{"LC_CTYPE": "C", "LANG": "en_US.UTF-8"}, true, []string{"fetch", "--peek", ids["windows-1252"]}, []string{"\"Quoted\" - costs 5 EUR ... done.\n"}, nil},
		{"no locale is UTF-8", nil, true, []string{"fetch", "--peek", ids["windows-1252"]}, []string{utf8Quotes}, nil},
		{"piped stays UTF-8", map[string]string{"LANG": "C"}, false, []string{"fetch", "--peek", ids["windows-1252"]}, []string{utf8Quotes}, nil},
		{"JSON on an ASCII terminal is escaped", map[string]string{"LANG": "C"}, true, []string{"fetch", "--peek", "--json", ids["windows-1252"]}, []string{`\u201cQuoted\u201d \u2013 costs 5 \u20ac`}, nil},
		{"unseen bold on a colour terminal", map[string]string{"TERM": "xterm"}, true, []string{"list"}, []string{"\x1b[1m" + ids["latin1"] + " ", "\x1b[0m\n"}, []string{"\x1b[1m" + ids["windows-1252"] + " "}},
		{"NO_COLOR", map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, true, []string{"list"}, []string{"Menü"}, []string{"\x1b["}},
		{"piped list is plain", map[string]string{"TERM": "xterm"}, false, []string{"list"}, []string{"Menü"}, []string{"\x1b["}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			c.env["DUOMAIL_PASSWORD"] = "secret"
			for k, v := range tc.env {
				c.env[k] = v
			}
			r := c.runChecked(runOptions{tty: tc.tty}, append([]string{"--url", url}, tc.args...)...)
			out := r.stdout.String()
			if r.code != 0 {
				t.Fatalf("exit %d: %v", r.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("want %q in %q", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("%q should not be in %q", n, out)
				}
			}
		})
	}
}
