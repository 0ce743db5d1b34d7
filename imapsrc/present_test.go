package imapsrc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// searchBySeqServer holds UIDs 7 and 8 (message numbers 1 and 2) and
// answers the UID search key as GNU Mailutils imap4d 3.15 does: by message
// number. UID FETCH it answers by UID, as it should.
type searchBySeqServer struct {
	mu     sync.Mutex
	stored []string
}

func (p *searchBySeqServer) handle(peer *imaptest.Peer, tag, name, args string) bool {
	uids := []int{7, 8}
	inSet := func(set string, n int) bool {
		for _, part := range strings.Split(set, ",") {
			var lo, hi int
			if _, err := fmt.Sscanf(part, "%d:%d", &lo, &hi); err == nil && lo <= n && n <= hi {
				return true
			}
			if _, err := fmt.Sscanf(part, "%d", &lo); err == nil && lo == n {
				return true
			}
		}
		return false
	}
	switch {
	case name == "SELECT":
		peer.Send("* 2 EXISTS", "* OK [UIDVALIDITY 7] ok", "* OK [UIDNEXT 9] ok", tag+" OK [READ-WRITE] done")
	case name == "UID SEARCH" && strings.HasPrefix(args, "UID "):
		set := strings.Fields(args)[1]
		found := ""
		for seq, uid := range uids {
			if inSet(set, seq+1) {
				found += fmt.Sprintf(" %d", uid)
			}
		}
		peer.Send("* SEARCH"+found, tag+" OK done")
	case name == "UID FETCH":
		set := strings.Fields(args)[0]
		var lines []string
		for seq, uid := range uids {
			if inSet(set, uid) {
				lines = append(lines, fmt.Sprintf("* %d FETCH (UID %d)", seq+1, uid))
			}
		}
		peer.Send(append(lines, tag+" OK done")...)
	case name == "UID STORE":
		p.mu.Lock()
		p.stored = append(p.stored, args)
		p.mu.Unlock()
		peer.Send(tag + " OK done")
	default:
		return false
	}
	return true
}

// A server whose UID SEARCH UID answers by message number (GNU Mailutils)
// does not make an existing message look gone: what the search misses is
// asked again by UID FETCH. A UID that neither finds is still refused,
// before anything changes.
func TestSearchMissesAreConfirmedByFetch(t *testing.T) {
	p := &searchBySeqServer{}
	f := &fake{caps: "IMAP4rev1 IDLE", handle: p.handle}
	src, err := Dial(bg, f.start(t), client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	inbox := client.FolderRef{Name: "INBOX"}
	if err := src.SetFlags(bg, inbox, []string{"8"}, client.FlagAdd, []client.Flag{client.FlagFlagged}); err != nil {
		t.Fatalf("flag uid 8, which the folder holds: %v", err)
	}
	err = src.SetFlags(bg, inbox, []string{"2", "8"}, client.FlagAdd, []client.Flag{client.FlagFlagged})
	if !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "message 2 ") {
		t.Errorf("flag uid 2, which the folder lacks (but whose number is a message's): %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.stored) != 1 || !strings.HasPrefix(p.stored[0], "8 ") {
		t.Errorf("STORE sent for %q, want only the first flag's uid 8", p.stored)
	}
}
