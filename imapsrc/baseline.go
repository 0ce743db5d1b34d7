package imapsrc

import "github.com/duomail/duomail/client"

// Baseline returns what IMAP does on any server, so commands that need only
// these answers decide without connecting. Features that depend on the
// server's extensions (MOVE, UIDPLUS, IDLE, CONDSTORE, a Trash folder) are
// left out and learned when a session starts.
func Baseline() client.Capabilities {
	caps := client.Capabilities{Protocol: client.IMAP}
	caps.Set(client.FeatureFolders, true, "LIST, with STATUS counts (LIST-STATUS where offered)")
	caps.Set(client.FeatureHeadersFirst, true, "UID FETCH (ENVELOPE BODYSTRUCTURE FLAGS RFC822.SIZE)")
	caps.Set(client.FeatureHeadersOnly, true, "ENVELOPE, BODY.PEEK[HEADER]")
	caps.Set(client.FeaturePartialFetch, true, "BODY.PEEK[section]")
	caps.Set(client.FeatureServerFlags, true, "UID STORE +FLAGS.SILENT / -FLAGS.SILENT")
	caps.Set(client.FeatureServerSearch, true, "one UID SEARCH (CHARSET UTF-8 for non-ASCII text; ESEARCH RETURN (ALL COUNT) where offered), then envelopes of the hits")
	caps.Set(client.FeatureMailOnServer, true, "IMAP keeps mail on the server; the cache is a copy")
	caps.Set(client.FeaturePipelining, true, "one UID FETCH for many messages; several tagged commands in flight")
	return caps
}
