package popsrc

import "github.com/duomail/duomail/client"

// Baseline returns what POP3 can and cannot do on any server, so commands
// that only need these answers (move, flag, search) decide without
// connecting. Features that depend on the server (TOP, PIPELINING) are left
// out and learned from CAPA.
func Baseline() client.Capabilities {
	var caps client.Capabilities
	caps.Protocol = client.POP3
	for _, f := range []client.Feature{
		client.FeatureFolders, client.FeatureHeadersFirst, client.FeaturePartialFetch,
		client.FeatureServerFlags, client.FeatureServerMove, client.FeatureServerSearch, client.FeatureServerSort,
		client.FeaturePush, client.FeatureMailOnServer, client.FeatureTrash, client.FeatureChangeTracking,
	} {
		caps.Set(f, false, protocolLimits[f])
	}
	return caps
}

// protocolLimits say why POP3 lacks a feature, whatever the server.
var protocolLimits = map[client.Feature]string{
	client.FeatureFolders:        "POP3 has no folders",
	client.FeatureHeadersFirst:   "POP3 downloads whole messages",
	client.FeaturePartialFetch:   "POP3 downloads whole messages",
	client.FeatureServerFlags:    "POP3 keeps no flags on the server",
	client.FeatureServerMove:     "POP3 has no folders",
	client.FeatureServerSearch:   "POP3 has no search; duomail searches its local cache",
	client.FeatureServerSort:     "POP3 has no sort; duomail sorts its local cache",
	client.FeaturePush:           "POP3 has no push; duomail polls with UIDL",
	client.FeatureMailOnServer:   "POP3 is download-and-store; the local cache is the store of record",
	client.FeatureTrash:          "POP3 has no folders, so no Trash",
	client.FeatureChangeTracking: "only UIDL differences",
}
