package imapsrc

import (
	"github.com/emersion/go-imap/v2"
)

// confirmMissing takes UIDs that UID SEARCH UID did not find and returns
// those that UID FETCH does not find either. What such a search returns
// is there (it names messages the folder holds), but what it leaves out
// need not be gone: GNU Mailutils imap4d (3.15) reads the set given to the
// UID search key as message sequence numbers, so there "UID SEARCH UID 8"
// answers for the 8th message, or none, and an existing message would be
// called gone. Every server answers UID FETCH by UID. Only UIDs the search
// missed are asked again, so a server that searches right pays nothing
// more where all are found.
func (s *Source) confirmMissing(uids []imap.UID) ([]imap.UID, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	found := make(map[imap.UID]bool, len(uids))
	for _, set := range chunkUIDs(uids) {
		msgs, err := s.c.Fetch(set, &imap.FetchOptions{UID: true}).Collect()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			// Unsolicited FETCH responses about other messages may
			// arrive with the answer.
			if m.UID != 0 && set.Contains(m.UID) {
				found[m.UID] = true
			}
		}
	}
	return missingUIDs(uids, found), nil
}
