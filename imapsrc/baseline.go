package imapsrc

import "github.com/duomail/duomail/client"

// Baseline returns what IMAP does on any server (RFC 3501 itself), so
// commands can decide without connecting where the answer cannot differ.
// Extension-dependent features (MOVE, UIDPLUS, IDLE, CONDSTORE) are left
// out and learned from CAPABILITY.
func Baseline() client.Capabilities {
	var caps client.Capabilities
	caps.Protocol = client.IMAP
	caps.Set(client.FeatureHeadersFirst, true, headersFirstHow)
	caps.Set(client.FeaturePartialFetch, true, partialFetchHow)
	caps.Set(client.FeatureServerFlags, true, serverFlagsHow)
	caps.Set(client.FeatureMailOnServer, true, mailOnServerHow)
	return caps
}

const (
	headersFirstHow = "UID FETCH (ENVELOPE BODYSTRUCTURE FLAGS RFC822.SIZE)"
	partialFetchHow = "BODY.PEEK[section]"
	serverFlagsHow  = "UID STORE +FLAGS.SILENT / -FLAGS.SILENT"
	mailOnServerHow = "IMAP keeps mail on the server; the cache is a copy"
)
