package client

import "sort"

// Feature names one thing a user can ask of a mailbox. Which features a
// Source offers is data, read from its Capabilities, so commands decide by
// looking features up, never by asking which protocol they talk to.
type Feature string

const (
	FeatureFolders          Feature = "folders"            // more than one folder
	FeatureHeadersFirst     Feature = "headers_first"      // envelopes without downloading bodies, as the normal listing
	FeatureHeadersOnly      Feature = "headers_only"       // headers without bodies on request (IMAP ENVELOPE, POP3 TOP 0)
	FeaturePartialFetch     Feature = "partial_fetch"      // one MIME part without the rest
	FeatureServerFlags      Feature = "server_flags"       // flags stored on the server, seen by every device
	FeatureServerMove       Feature = "server_move"        // move between folders without downloading
	FeatureServerSearch     Feature = "server_search"      // search evaluated by the server
	FeatureServerSort       Feature = "server_sort"        // listings and searches ordered by the server (SORT)
	FeaturePush             Feature = "push"               // new mail announced by the server (IDLE)
	FeatureMailOnServer     Feature = "mail_on_server"     // the server is the store of record; the cache is a copy
	FeatureDeleteNoDownload Feature = "delete_no_download" // delete without fetching the message
	FeatureExpunge          Feature = "expunge"            // remove only chosen messages for good (UID EXPUNGE; without UIDPLUS a guarded EXPUNGE)
	FeatureTrash            Feature = "trash"              // delete moves to a Trash folder
	FeatureChangeTracking   Feature = "change_tracking"    // only changes since last sync (CONDSTORE)
	FeaturePipelining       Feature = "pipelining"         // many commands in flight
)

// AllFeatures lists the features in the order capabilities and compare show them.
var AllFeatures = []Feature{
	FeatureFolders, FeatureHeadersFirst, FeatureHeadersOnly, FeaturePartialFetch,
	FeatureServerFlags, FeatureServerMove, FeatureServerSearch, FeatureServerSort, FeaturePush,
	FeatureMailOnServer, FeatureDeleteNoDownload, FeatureExpunge, FeatureTrash,
	FeatureChangeTracking, FeaturePipelining,
}

// Support says whether a feature is available and how, or why not.
type Support struct {
	Supported bool   `json:"supported"`
	How       string `json:"how"` // "UID MOVE", or the reason it is missing: "POP3 has no folders"
}

// Capabilities is what a connected server lets duomail do.
type Capabilities struct {
	Protocol  string              `json:"protocol"`
	Announced []string            `json:"announced"`       // IMAP CAPABILITY or POP3 CAPA, as sent
	Auth      []string            `json:"auth_mechanisms"` // SASL mechanisms offered
	TLS       string              `json:"tls"`             // "TLS 1.3 (implicit)", "TLS 1.3 (STARTTLS)", "none"
	Features  map[Feature]Support `json:"features"`
}

// Has reports whether f is supported.
func (c Capabilities) Has(f Feature) bool { return c.Features[f].Supported }

// Require returns nil when f is supported and otherwise an error wrapping
// ErrUnsupported that names the operation and the reason, e.g.
// "move: POP3 has no folders".
func (c Capabilities) Require(op string, f Feature) error {
	s, ok := c.Features[f]
	if ok && s.Supported {
		return nil
	}
	reason := s.How
	if reason == "" {
		reason = c.Protocol + " server does not offer " + string(f)
	}
	return &UnsupportedError{Op: op, Reason: reason}
}

// Set records a feature; Sources build their Capabilities with it.
func (c *Capabilities) Set(f Feature, supported bool, how string) {
	if c.Features == nil {
		c.Features = make(map[Feature]Support)
	}
	c.Features[f] = Support{Supported: supported, How: how}
}

// Sorted returns the features in AllFeatures order, unknown ones last by name.
func (c Capabilities) Sorted() []Feature {
	rank := make(map[Feature]int, len(AllFeatures))
	for i, f := range AllFeatures {
		rank[f] = i
	}
	out := make([]Feature, 0, len(c.Features))
	for f := range c.Features {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, iok := rank[out[i]]
		rj, jok := rank[out[j]]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return out[i] < out[j]
	})
	return out
}
