package localcache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/query"
)

// maxIndexText bounds the text indexed per message. A Batch holds the
// text of every message added until Commit, so this also bounds its
// memory: 256 KiB of text is a long book chapter.
const maxIndexText = 256 << 10

// The sort keys of --sort from and --sort subject, computed where they
// are needed rather than stored, so that they can change without a
// migration. Registered on the driver: every connection has them.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("duomail_sort_from", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		return client.SortFromKey(s), nil
	})
	sqlite.MustRegisterDeterministicScalarFunction("duomail_base_subject", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		return client.BaseSubject(s), nil
	})
}

// indexWriter writes the search index rows of messages whose messages
// rows were written in the same transaction: their text, and the header
// rows of messages already in the header index (a new message's wait for
// the next search, see migrateLazyHeaderIndex). It holds them until flush,
// after the last messages row: FTS5 writes what it holds in memory to disk
// as a new segment whenever SQLite opens a statement savepoint, which it
// does for every statement that writes messages (its triggers make it a
// multi-row write). Index rows written between such statements cost a
// segment and its merging each; written together after them they are one
// segment at commit. Index rows are replaced by a delete and an insert
// (FTS5 has no update that keeps a row); a row inserted in this
// transaction has nothing to delete.
type indexWriter struct {
	delHeader, putHeader, delText, putText *sql.Stmt
	// existing is the highest messages.seq when the writer was prepared:
	// rows above it are new (seq only grows), so the index has none of
	// them. Rows at or below headerMark have header rows to keep current.
	existing, headerMark int64
	pending              []pendingIndexRow
}

type pendingIndexRow struct {
	seq  int64
	env  client.Envelope
	text *string
}

// prepareIndex must come before the transaction writes messages rows.
func prepareIndex(ctx context.Context, tx *sql.Tx) (*indexWriter, error) {
	var w indexWriter
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT max(seq) FROM messages), 0), (SELECT seq FROM header_index_mark)`).Scan(&w.existing, &w.headerMark); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&w.delHeader, `DELETE FROM header_index WHERE rowid = ?`},
		{&w.putHeader, `INSERT INTO header_index (rowid, sender, recipients, cc, subject) VALUES (?, ?, ?, ?, ?)`},
		{&w.delText, `DELETE FROM text_index WHERE rowid = ?`},
		{&w.putText, `INSERT INTO text_index (rowid, body) VALUES (?, ?)`},
	} {
		stmt, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			w.Close()
			return nil, err
		}
		*p.stmt = stmt
	}
	return &w, nil
}

func (w *indexWriter) Close() {
	for _, s := range []*sql.Stmt{w.delHeader, w.putHeader, w.delText, w.putText} {
		if s != nil {
			s.Close()
		}
	}
}

// message queues the index rows of row seq: its header fields as env has
// them (when the header index holds the row) and, when text is not nil,
// its text. flush writes them.
func (w *indexWriter) message(seq int64, env client.Envelope, text *string) {
	if seq > w.headerMark && text == nil {
		return // nothing to write before the next search
	}
	w.pending = append(w.pending, pendingIndexRow{seq, env, text})
}

// flush writes the queued index rows; call it after the transaction's
// last write to messages, before commit.
func (w *indexWriter) flush(ctx context.Context) error {
	for _, p := range w.pending {
		if err := w.write(ctx, p.seq, p.env, p.text); err != nil {
			return fmt.Errorf("index row %d: %w", p.seq, err)
		}
	}
	w.pending = w.pending[:0]
	return nil
}

func (w *indexWriter) write(ctx context.Context, seq int64, env client.Envelope, text *string) error {
	if seq <= w.headerMark {
		if _, err := w.delHeader.ExecContext(ctx, seq); err != nil {
			return err
		}
		if _, err := w.putHeader.ExecContext(ctx, seq, env.From, strings.Join(env.To, ", "), strings.Join(env.Cc, ", "), env.Subject); err != nil {
			return err
		}
	}
	if text == nil {
		return nil
	}
	if seq <= w.existing {
		if _, err := w.delText.ExecContext(ctx, seq); err != nil {
			return err
		}
	}
	if *text == "" {
		return nil
	}
	_, err := w.putText.ExecContext(ctx, seq, *text)
	return err
}

// indexHeaders writes the header index rows of every message stored since
// the last search (the rows above header_index_mark), in one statement,
// and raises the mark. A cache that cannot be written says so instead of
// searching without them.
func (c *Cache) indexHeaders(ctx context.Context) error {
	var mark, top int64
	if err := c.db.QueryRowContext(ctx, `SELECT (SELECT seq FROM header_index_mark), coalesce((SELECT max(seq) FROM messages), 0)`).Scan(&mark, &top); err != nil {
		return fmt.Errorf("index headers: %w", err)
	}
	if top <= mark {
		return nil
	}
	if err := c.checkWritable(); err != nil {
		return fmt.Errorf("index the headers of messages stored since the last search: %w", err)
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO header_index (rowid, sender, recipients, cc, subject)
	SELECT seq, sender, `+addressText("recipients")+`, `+addressText("cc")+`, subject
	FROM messages WHERE seq > (SELECT seq FROM header_index_mark) ORDER BY seq;
UPDATE header_index_mark SET seq = max(seq, coalesce((SELECT max(seq) FROM messages), 0));
`)
		return err
	})
	if err != nil {
		return fmt.Errorf("index headers: %w", err)
	}
	return nil
}

// indexChunk is how many messages IndexText reads before writing them in
// one transaction: few enough that a sync waiting for the write lock
// hardly notices, many enough that the commits cost little.
const indexChunk = 200

// UnindexedText counts the messages whose body is cached but whose text is
// not yet in the search index (bodies cached by a duomail from before the
// index, or adopted by recovery).
func (c *Cache) UnindexedText(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE text_indexed = 0 AND body_path != ''`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unindexed messages: %w", err)
	}
	return n, nil
}

// IndexText puts the text of every cached body not yet indexed into the
// search index, reading the message files; progress, when set, is told how
// many of how many are done after each chunk. It also records Cc,
// In-Reply-To and References, which rows from before the index lack. It
// is the one-time filling of the index for an existing cache, and repairs
// whatever recovery adopted since; an interrupted run resumes where it
// stopped. A cache that cannot be written is left as it is.
func (c *Cache) IndexText(ctx context.Context, progress func(done, total int)) error {
	if c.readOnly != nil {
		return nil
	}
	total, err := c.UnindexedText(ctx)
	if err != nil || total == 0 {
		return err
	}
	if progress != nil {
		progress(0, total)
	}
	done := 0
	var after int64
	type parsed struct {
		seq  int64
		env  client.Envelope
		text string
	}
	for {
		rows, err := c.db.QueryContext(ctx, `SELECT m.seq, f.name, m.uidvalidity, m.id, m.body_path FROM messages m JOIN folders f ON f.id = m.folder_id
			WHERE m.text_indexed = 0 AND m.body_path != '' AND m.seq > ? ORDER BY m.seq LIMIT ?`, after, indexChunk)
		if err != nil {
			return fmt.Errorf("index text: %w", err)
		}
		type todo struct {
			seq    int64
			folder string
			ref    fileRef
		}
		var chunk []todo
		for rows.Next() {
			var t todo
			var v int64
			if err := rows.Scan(&t.seq, &t.folder, &v, &t.ref.id, &t.ref.path); err != nil {
				rows.Close()
				return fmt.Errorf("index text: %w", err)
			}
			t.ref.uidValidity = uint32(v)
			chunk = append(chunk, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("index text: %w", err)
		}
		if len(chunk) == 0 {
			break
		}
		after = chunk[len(chunk)-1].seq
		var out []parsed
		for _, t := range chunk {
			mdir, err := c.maildir(t.folder)
			if err != nil {
				continue
			}
			p, err := locate(mdir, t.ref)
			if err != nil || p == "" {
				// A vanished file is recovery's business; this row
				// stays unindexed until then.
				continue
			}
			env, text, err := parseFileText(filepath.Join(mdir, p))
			if err != nil {
				continue
			}
			out = append(out, parsed{t.seq, env, text})
		}
		err = c.write(ctx, func(tx *sql.Tx) error {
			w, err := prepareIndex(ctx, tx)
			if err != nil {
				return err
			}
			defer w.Close()
			upd, err := tx.PrepareContext(ctx, `UPDATE messages SET cc = ?, in_reply_to = ?, refs = ?, text_indexed = 1
				WHERE seq = ? AND body_path != '' RETURNING sender, recipients, subject`)
			if err != nil {
				return err
			}
			defer upd.Close()
			for _, p := range out {
				cc, err := marshalTo(p.env.Cc)
				if err != nil {
					return err
				}
				// The row keeps its own sender, recipients and subject
				// (an IMAP row's come from the server's ENVELOPE).
				row := client.Envelope{Cc: p.env.Cc}
				var to string
				err = upd.QueryRowContext(ctx, cc, p.env.InReplyTo, strings.Join(p.env.References, " "), p.seq).Scan(&row.From, &to, &row.Subject)
				if errors.Is(err, sql.ErrNoRows) {
					continue // removed meanwhile
				}
				if err != nil {
					return err
				}
				if to != "" {
					if err := json.Unmarshal([]byte(to), &row.To); err != nil {
						return fmt.Errorf("recipients of row %d: %w", p.seq, err)
					}
				}
				w.message(p.seq, row, &p.text)
			}
			return w.flush(ctx)
		})
		if err != nil {
			return fmt.Errorf("index text: %w", err)
		}
		done += len(chunk)
		if progress != nil {
			progress(min(done, total), total)
		}
	}
	return nil
}

func parseFileText(path string) (client.Envelope, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return client.Envelope{}, "", err
	}
	defer f.Close()
	env, _, text, err := mimepart.ParseMessageText(f, maxIndexText)
	return env, text, err
}

// SearchCoverage implements client.Cache.
func (c *Cache) SearchCoverage(ctx context.Context, folder string) (client.SearchCoverage, error) {
	var cov client.SearchCoverage
	f, ok, err := c.lookupFolder(ctx, c.db, folder)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("search coverage of %q: %w", folder, err)
		}
		return cov, err
	}
	err = c.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(text_indexed != 0), 0) FROM messages WHERE folder_id = ? AND uidvalidity = ? AND lost = 0`,
		f.id, int64(f.uidValidity)).Scan(&cov.Messages, &cov.WithText)
	if err != nil {
		return cov, fmt.Errorf("search coverage of %s: %w", folder, err)
	}
	return cov, nil
}

// Search implements client.Cache. Bodies cached but not yet indexed are
// indexed first (Options.IndexProgress is told how that goes), so a search
// never silently misses a message whose body the cache has.
func (c *Cache) Search(ctx context.Context, folder string, q query.Node, opts client.ListOptions, fn func(client.Envelope) error) error {
	where, args, err := compileQuery(q)
	if err != nil {
		return fmt.Errorf("search %s: %w", folder, err)
	}
	order, err := orderBy(opts)
	if err != nil {
		return fmt.Errorf("search %s: %w", folder, err)
	}
	if err := c.indexHeaders(ctx); err != nil {
		return fmt.Errorf("search %s: %w", folder, err)
	}
	if err := c.IndexText(ctx, c.lockOpts.IndexProgress); err != nil {
		return fmt.Errorf("search %s: %w", folder, err)
	}
	f, ok, err := c.lookupFolder(ctx, c.db, folder)
	if err != nil {
		return fmt.Errorf("search %q: %w", folder, err)
	}
	if !ok {
		return nil
	}
	outside, err := c.outsideChanges(ctx, f)
	if err != nil {
		return fmt.Errorf("search %s: %w", folder, err)
	}
	// Flags another program set in file names show in the results; the
	// query itself matches the flags the index holds.
	limit, offset := opts.Limit, opts.Offset
	fn = applyOutside(outside, false, &limit, &offset, fn)
	stmt := `SELECT ` + envelopeColumns + ` FROM messages m WHERE m.folder_id = ? AND m.uidvalidity = ? AND m.lost = 0 AND (` + where + `) ` + order
	all := append([]any{f.id, int64(f.uidValidity)}, args...)
	stmt, all = limitOffset(stmt, all, limit, offset)
	return c.each(ctx, "search", folder, stmt, all, fn)
}

// each runs a listing query and calls fn with every envelope. Its own
// errors are wrapped with op; fn's are returned as they are.
func (c *Cache) each(ctx context.Context, op, folder, stmt string, args []any, fn func(client.Envelope) error) error {
	rows, err := c.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, folder, err)
	}
	defer rows.Close()
	for rows.Next() {
		env, err := scanEnvelope(rows, folder)
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, folder, err)
		}
		if err := fn(env); err == errListDone {
			return nil
		} else if err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, folder, err)
	}
	return nil
}

func limitOffset(stmt string, args []any, limit, offset int) (string, []any) {
	if limit <= 0 && offset <= 0 {
		return stmt, args
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return stmt + ` LIMIT ? OFFSET ?`, append(args, limit, max(offset, 0))
}

// orderBy is the ORDER BY of a listing. Ties keep the natural newest-first
// order (descending UID, then the order of arrival in the cache), so that
// paging through equal keys neither repeats nor skips a message.
func orderBy(opts client.ListOptions) (string, error) {
	desc, asc := "DESC", "ASC"
	if opts.Reverse {
		desc, asc = asc, desc
	}
	var key string
	switch opts.Sort {
	case "":
	case client.SortDate:
		key = "sort_date " + desc + ", "
	case client.SortArrival:
		key = "received " + desc + ", "
	case client.SortFrom:
		key = "duomail_sort_from(sender) " + asc + ", "
	case client.SortSubject:
		key = "duomail_base_subject(subject) " + asc + ", "
	case client.SortSize:
		key = "size " + desc + ", "
	default:
		return "", fmt.Errorf("%w: unknown sort %q (want date, arrival, from, subject or size)", client.ErrUsage, opts.Sort)
	}
	return "ORDER BY " + key + "uid " + desc + ", seq " + desc, nil
}

// compileQuery turns a query tree into an SQL condition on messages m.
//
// Header terms (from:, to:, cc:, subject:, and the header side of a bare
// word) match as substrings, case- and diacritic-insensitively, through
// the trigram index; a term shorter than three characters, which trigrams
// cannot look up, is matched with LIKE (ASCII case folding only). Text
// terms match words of the decoded body that begin with the term (a phrase:
// those words in that order, the last one as a prefix).
func compileQuery(n query.Node) (string, []any, error) {
	var b strings.Builder
	var args []any
	var walk func(n any) error
	join := func(terms []any, op, empty string) error {
		if len(terms) == 0 {
			b.WriteString(empty)
			return nil
		}
		b.WriteByte('(')
		for i, t := range terms {
			if i > 0 {
				b.WriteString(op)
			}
			if err := walk(t); err != nil {
				return err
			}
		}
		b.WriteByte(')')
		return nil
	}
	nodes := func(ns []query.Node) []any {
		out := make([]any, len(ns))
		for i, n := range ns {
			out[i] = n
		}
		return out
	}
	walk = func(n any) error {
		switch n := n.(type) {
		case nil:
			b.WriteString("1")
		case query.And:
			return join(mergeMatches(n.Terms), " AND ", "1")
		case *query.And:
			return join(mergeMatches(n.Terms), " AND ", "1")
		case matchAll:
			fmt.Fprintf(&b, "m.seq IN (SELECT rowid FROM %s WHERE %s MATCH ?)", n.table, n.table)
			args = append(args, strings.Join(n.exprs, " AND "))
		case query.Or:
			return join(nodes(n.Terms), " OR ", "0")
		case *query.Or:
			return join(nodes(n.Terms), " OR ", "0")
		case query.Not:
			b.WriteString("NOT ")
			return walk(n.Term)
		case *query.Not:
			b.WriteString("NOT ")
			return walk(n.Term)
		case query.Text:
			return textTerm(&b, &args, n)
		case *query.Text:
			return textTerm(&b, &args, *n)
		case query.Flag:
			flagTerm(&b, &args, n)
		case *query.Flag:
			flagTerm(&b, &args, *n)
		case query.HasAttachment, *query.HasAttachment:
			b.WriteString("m.has_attachments != 0")
		case query.Date:
			dateTerm(&b, &args, n)
		case *query.Date:
			dateTerm(&b, &args, *n)
		case query.Size:
			sizeTerm(&b, &args, n)
		case *query.Size:
			sizeTerm(&b, &args, *n)
		default:
			return fmt.Errorf("query term %T: not supported by the local index", n)
		}
		return nil
	}
	if err := walk(n); err != nil {
		return "", nil, err
	}
	return b.String(), args, nil
}

// matchAll is several terms of an AND that one full-text index answers
// in one MATCH: FTS5 intersects the lists itself, instead of each term's
// hits being collected whole and intersected after.
type matchAll struct {
	table string
	exprs []string
}

// mergeMatches puts the body terms of an AND, and its header terms long
// enough for trigrams, into one matchAll each.
func mergeMatches(terms []query.Node) []any {
	var out []any
	body := matchAll{table: "text_index"}
	header := matchAll{table: "header_index"}
	for _, t := range terms {
		if p, ok := t.(*query.Text); ok {
			t = *p
		}
		text, ok := t.(query.Text)
		value := ""
		if ok {
			value = strings.Join(strings.Fields(text.Value), " ")
		}
		switch {
		case !ok || value == "":
			out = append(out, t)
		case text.Field == query.Body && isWordy(value):
			body.exprs = append(body.exprs, bodyMatch(value))
		case text.Field != query.Body && text.Field != query.Anywhere && headerColumns[text.Field] != nil && utf8.RuneCountInString(value) >= 3:
			header.exprs = append(header.exprs, headerMatch(headerColumns[text.Field], value))
		default:
			out = append(out, t)
		}
	}
	for _, m := range []matchAll{body, header} {
		if len(m.exprs) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// headerColumns are the header_index columns (and the messages columns of
// the same content) each field searches.
var headerColumns = map[query.Field][]string{
	query.From:     {"sender"},
	query.To:       {"recipients"},
	query.Cc:       {"cc"},
	query.Subject:  {"subject"},
	query.Anywhere: {"sender", "recipients", "cc", "subject"},
}

func textTerm(b *strings.Builder, args *[]any, t query.Text) error {
	value := strings.Join(strings.Fields(t.Value), " ")
	if value == "" {
		b.WriteString("1")
		return nil
	}
	switch t.Field {
	case query.Body:
		bodyTerm(b, args, value)
	case query.Anywhere:
		b.WriteByte('(')
		headerTerm(b, args, headerColumns[query.Anywhere], value)
		b.WriteString(" OR ")
		bodyTerm(b, args, value)
		b.WriteByte(')')
	default:
		cols, ok := headerColumns[t.Field]
		if !ok {
			return fmt.Errorf("query field %q: not supported by the local index", t.Field)
		}
		headerTerm(b, args, cols, value)
	}
	return nil
}

func headerTerm(b *strings.Builder, args *[]any, cols []string, value string) {
	if utf8.RuneCountInString(value) >= 3 {
		b.WriteString("m.seq IN (SELECT rowid FROM header_index WHERE header_index MATCH ?)")
		*args = append(*args, headerMatch(cols, value))
		return
	}
	pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(value) + "%"
	b.WriteByte('(')
	for i, col := range cols {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(b, `m.%s LIKE ? ESCAPE '\'`, col)
		*args = append(*args, pattern)
	}
	b.WriteByte(')')
}

func bodyTerm(b *strings.Builder, args *[]any, value string) {
	// A term without a letter or digit is no word: the word index
	// cannot find it.
	if !isWordy(value) {
		b.WriteString("0")
		return
	}
	b.WriteString("m.seq IN (SELECT rowid FROM text_index WHERE text_index MATCH ?)")
	*args = append(*args, bodyMatch(value))
}

func isWordy(value string) bool {
	return strings.ContainsFunc(value, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// bodyMatch is the FTS5 expression for a text term: its words in order,
// the last one as a prefix.
func bodyMatch(value string) string { return ftsString(value) + " *" }

// headerMatch is the FTS5 expression for a header term of three or more
// characters: the substring, in the given columns.
func headerMatch(cols []string, value string) string {
	match := ftsString(value)
	if len(cols) < len(headerColumns[query.Anywhere]) {
		match = "{" + strings.Join(cols, " ") + "} : " + match
	}
	return match
}

// ftsString quotes s as one FTS5 string (a phrase of its tokens).
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func flagTerm(b *strings.Builder, args *[]any, f query.Flag) {
	not := ""
	if !f.Set {
		not = "NOT "
	}
	if client.Flag(f.Name) == client.FlagSeen {
		fmt.Fprintf(b, "%s(m.seen != 0)", not)
		return
	}
	fmt.Fprintf(b, "%s(instr(' ' || m.flags || ' ', ?) > 0)", not)
	*args = append(*args, " "+f.Name+" ")
}

func dateTerm(b *strings.Builder, args *[]any, d query.Date) {
	var parts []string
	if !d.Since.IsZero() {
		parts = append(parts, "m.sort_date >= ?")
		*args = append(*args, d.Since.Unix())
	}
	if !d.Before.IsZero() {
		parts = append(parts, "m.sort_date < ?")
		*args = append(*args, d.Before.Unix())
	}
	if len(parts) == 0 {
		b.WriteString("1")
		return
	}
	b.WriteString("(" + strings.Join(parts, " AND ") + ")")
}

func sizeTerm(b *strings.Builder, args *[]any, s query.Size) {
	var parts []string
	if s.Larger > 0 {
		parts = append(parts, "m.size > ?")
		*args = append(*args, s.Larger)
	}
	if s.Smaller > 0 {
		parts = append(parts, "m.size < ?")
		*args = append(*args, s.Smaller)
	}
	if len(parts) == 0 {
		b.WriteString("1")
		return
	}
	b.WriteString("(" + strings.Join(parts, " AND ") + ")")
}
