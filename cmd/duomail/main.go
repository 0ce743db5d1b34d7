// Command duomail reads mail over IMAP and POP3 with one set of commands.
package main

import (
	"context"
	"os"
	"syscall"
)

func main() {
	ctx, stop := signalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(osStreams(), os.LookupEnv).execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
