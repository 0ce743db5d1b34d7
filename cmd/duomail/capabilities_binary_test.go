package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
)

// testCapabilitiesBothProtocols checks capabilities --json and piped, on
// the IMAP and the POP3 account of one mailbox.
func testCapabilitiesBothProtocols(t *testing.T, c *cli) {
	for _, acct := range []string{"imap", "pop"} {
		r := c.ok("-a", acct, "capabilities", "--json")
		got := jsonOf[capabilitiesResult](t, r)
		var names []client.Feature
		for _, f := range got.Features {
			names = append(names, f.Name)
			if f.How == "" {
				t.Errorf("%s: feature %s without how", acct, f.Name)
			}
		}
		if !slices.Equal(names, client.AllFeatures) {
			t.Errorf("%s: features %v, want AllFeatures order", acct, names)
		}
		if len(got.Announced) == 0 || len(got.Auth) == 0 || !strings.HasPrefix(got.TLS, "TLS 1.") || !strings.Contains(got.TLS, "implicit") {
			t.Errorf("%s: announced %v auth %v tls %q", acct, got.Announced, got.Auth, got.TLS)
		}
		feature := func(f client.Feature) featureJSON {
			i := slices.Index(names, f)
			if i < 0 {
				t.Fatalf("no %s", f)
			}
			return got.Features[i]
		}
		switch acct {
		case "imap":
			if got.Protocol != "imap" || !slices.Contains(got.Announced, "IDLE") {
				t.Errorf("imap: %+v", got)
			}
			if f := feature(client.FeaturePush); !f.Supported || f.How != "IDLE" {
				t.Errorf("imap push: %+v", f)
			}
			if f := feature(client.FeaturePartialFetch); !f.Supported {
				t.Errorf("imap partial fetch: %+v", f)
			}
		case "pop":
			if got.Protocol != "pop3" || !slices.Contains(got.Announced, "UIDL") {
				t.Errorf("pop: %+v", got)
			}
			if f := feature(client.FeaturePartialFetch); f.Supported || f.How != "POP3 downloads whole messages" {
				t.Errorf("pop partial fetch: %+v", f)
			}
			if f := feature(client.FeatureDeleteNoDownload); !f.Supported {
				t.Errorf("pop delete without download: %+v", f)
			}
		}

		// Piped: key/value lines, then a line per feature.
		rows := tsv(c.ok("-a", acct, "capabilities").stdout)
		byKey := map[string][]string{}
		for _, row := range rows {
			byKey[row[0]] = row
		}
		if r := byKey["protocol"]; len(r) != 2 || r[1] != got.Protocol {
			t.Errorf("%s: protocol line %q", acct, r)
		}
		if r := byKey["announced"]; len(r) != 2 || r[1] != strings.Join(got.Announced, " ") {
			t.Errorf("%s: announced line %q", acct, r)
		}
		for _, f := range got.Features {
			if r := byKey[string(f.Name)]; len(r) != 3 || r[1] != fmt.Sprint(f.Supported) || r[2] != f.How {
				t.Errorf("%s: feature line %q, want %+v", acct, r, f)
			}
		}
	}
}
