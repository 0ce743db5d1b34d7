package main

import (
	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc"
	"github.com/duomail/duomail/popsrc"
)

// drivers are the protocol implementations, by the protocol names of the
// configuration. Baseline features let a command decide without
// connecting (e.g. that POP3 cannot move); features left out are learned
// from the server.
var drivers = map[string]client.Driver{
	client.IMAP: {Dial: imapsrc.Dial, Baseline: imapsrc.Baseline()},
	client.POP3: {Dial: popsrc.Dial, Baseline: popsrc.Baseline()},
}
