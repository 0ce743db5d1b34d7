package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
)

func TestCapabilitiesView(t *testing.T) {
	var caps client.Capabilities
	caps.Protocol = client.POP3
	caps.TLS = "TLS 1.3 (implicit)"
	caps.Announced = []string{"TOP", "UIDL", "SASL PLAIN"}
	caps.Set(client.FeaturePartialFetch, false, "POP3 downloads whole messages")
	caps.Set(client.FeatureDeleteNoDownload, true, "DELE (committed at QUIT)")
	caps.Set("x-future", true, "something new")
	acct := &client.Account{Name: "home", Protocol: client.POP3, Host: "pop.example.net", TLS: client.TLSImplicit}
	r := newCapabilitiesResult(acct, caps)
	if len(r.Features) != len(client.AllFeatures)+1 || r.Features[len(r.Features)-1].Name != "x-future" {
		t.Fatalf("features %+v", r.Features)
	}
	for i, f := range client.AllFeatures {
		if r.Features[i].Name != f {
			t.Errorf("feature %d is %s, want %s", i, r.Features[i].Name, f)
		}
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"auth_mechanisms":[]`) || !strings.Contains(string(b), `{"name":"partial_fetch","supported":false,"how":"POP3 downloads whole messages"}`) {
		t.Errorf("JSON %s", b)
	}
	out := r.layout(&format{tty: true}, 100)
	for _, want := range []string{
		"Account:   home (POP3, pop.example.net:995)",
		"partial fetch (one MIME part)     no         POP3 downloads whole messages",
		"delete without download           yes        DELE (committed at QUIT)",
		"several folders                   no         not reported by the POP3 driver",
		"Auth:      (none)",
		"OAuth2:    (none: an OAuth2 account cannot sign in here)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("layout lacks %q:\n%s", want, out)
		}
	}
	recs := r.records(&format{})
	if strings.Join(recs[4], "|") != "announced|TOP UIDL SASL PLAIN" || strings.Join(recs[11], "|") != "partial_fetch|false|POP3 downloads whole messages" || strings.Join(recs[7], "|") != "oauth_mechanism|" {
		t.Errorf("records %q", recs)
	}
}
