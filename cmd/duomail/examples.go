package main

import "github.com/spf13/cobra"

// commandExamples are the README's examples, for help and the manual
// pages, by command path. A command that sets its own Example keeps it.
var commandExamples = map[string]string{
	"duomail": `  duomail demo                      # a tour against built-in servers, no account needed
  duomail list                      # the newest 50 messages of INBOX
  duomail fetch 42                  # read message 42
  duomail --url imaps://me%40example.com@imap.example.com list`,
	"duomail accounts": `  duomail accounts
  duomail accounts --json`,
	"duomail folders": `  duomail folders
  duomail -a work folders --json`,
	"duomail list": `  duomail list
  duomail list -f Archive --limit 0
  duomail list --unseen
  duomail list --offline            # from the cache: no network, no password
  duomail -a home list --headers-only`,
	"duomail fetch": `  duomail fetch 42
  duomail fetch 42 --headers
  duomail fetch 42 --raw > message.eml
  duomail fetch 42 --part 1.2
  duomail fetch 42 --save-attachments ~/Downloads`,
	"duomail delete": `  duomail delete 42                 # IMAP: to Trash; POP3: deleted on the server
  duomail delete 42 43 --expunge    # IMAP: removed for good
  duomail delete -f Archive 17`,
	"duomail move": `  duomail move 42 --to Archive
  duomail move -f Archive 17 18 --to INBOX`,
	"duomail flag": `  duomail flag 42 --add flagged
  duomail flag 42 43 --remove seen,flagged`,
	"duomail sync": `  duomail sync
  duomail sync -f Archive --bodies  # IMAP: whole messages too, for offline reading`,
	"duomail capabilities": `  duomail capabilities
  duomail -a home capabilities --json`,
	"duomail compare": `  duomail compare work home
  duomail compare work home --count 50 --with-delete`,
	"duomail check": `  duomail check --all               # every account, concurrently
  duomail -a work check --folders
  duomail --quiet check --all --json`,
	"duomail demo": `  duomail demo
  duomail demo --keep-running       # keep the servers up until Ctrl-C`,
	"duomail completion": `  duomail completion bash > ~/.local/share/bash-completion/completions/duomail
  duomail completion zsh > "${fpath[1]}/_duomail"
  duomail completion fish > ~/.config/fish/completions/duomail.fish
  duomail completion powershell >> $PROFILE`,
	"duomail completion bash": `  source <(duomail completion bash)                          # this shell
  duomail completion bash > ~/.local/share/bash-completion/completions/duomail`,
	"duomail completion zsh":  `  duomail completion zsh > "${fpath[1]}/_duomail"`,
	"duomail completion fish": `  duomail completion fish > ~/.config/fish/completions/duomail.fish`,
	"duomail completion powershell": `  duomail completion powershell | Out-String | Invoke-Expression   # this session
  duomail completion powershell >> $PROFILE`,
	"duomail config": `  duomail config init                # asks for the address, recognises the provider
  duomail config init --address me@fastmail.com --password-cmd 'pass show mail/fastmail' --yes`,
	"duomail auth": `  duomail -a work auth login
  duomail auth status`,
	"duomail auth login":        "  duomail -a work auth login",
	"duomail auth logout":       "  duomail -a work auth logout",
	"duomail auth set-password": "  duomail -a work auth set-password",
	"duomail auth status":       "  duomail auth status",
	"duomail man": `  duomail man
  duomail man fetch
  duomail man --dir ~/.local/share/man      # then: man duomail-fetch`,
}

// setExamples gives every command in the tree without an Example its
// README example.
func setExamples(c *cobra.Command) {
	if c.Example == "" {
		c.Example = commandExamples[c.CommandPath()]
	}
	for _, sub := range c.Commands() {
		setExamples(sub)
	}
}
