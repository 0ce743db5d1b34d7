package main

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// readerMessage is one message of the reading corpus: every kind of
// content fetch must show the same way on both protocols.
type readerMessage struct {
	name    string
	subject string // decoded, to find it in a listing
	raw     []byte
}

func crlfBytes(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func b64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for i := 0; i < len(enc); i += 76 {
		b.WriteString(enc[i:min(i+76, len(enc))])
		b.WriteString("\n")
	}
	return b.String()
}

// readerPDF and readerPNG stand for binary attachments; only their bytes
// and sizes matter.
var (
	readerPDF = bytes.Repeat([]byte("%PDF-1.4 fake résumé content\n"), 400)
	readerPNG = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 3, 250}, 300)...)
	readerCSV = []byte("quarter,revenue\nQ1,100\nQ2,120\n")
)

func readerCorpus() []readerMessage {
	return []readerMessage{
		{"newsletter", "Newsletter: prices", crlfBytes(`From: Café Bulletin <news@cafe.example>
To: Alice <alice@example.com>
Subject: Newsletter: prices
Date: Tue, 03 Jan 2023 09:00:00 +0100
Message-ID: <news-1@cafe.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><head><style>p { color: red }</style><script>alert(1)</script></head>
<body><h1>This week</h1>
<table><tr><th>Item</th><th>Price</th></tr>
<tr><td>Coffee</td><td>3,50 =E2=82=AC</td></tr>
<tr><td>Tea</td><td>2,90 =E2=82=AC</td></tr></table>
<blockquote>Best coffee in town.</blockquote>
<pre>
  line one
    line two
</pre>
<ol><li>First</li><li>Second</li></ol>
<ul><li>Milk</li><li>Sugar</li></ul>
<p>Read <a href=3D"https://cafe.example/more">more</a>. <img src=3D"https://cafe.e=
xample/t.gif" alt=3D"logo"></p>
<div style=3D"display:none">hidden preheader</div>
</body></html>
`)},
		{"alternative", "Both parts", crlfBytes(`From: Bob <bob@example.org>
To: Alice <alice@example.com>
Cc: Carol <carol@example.net>, dave@example.net
Subject: Both parts
Date: Wed, 04 Jan 2023 10:00:00 +0000
Message-ID: <alt-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

The plain version.
--alt
Content-Type: text/html; charset=utf-8

<p>The <b>HTML</b> version.</p>
--alt--
`)},
		{"forwarded", "Fwd: Quarterly figures", crlfBytes(`From: Bob <bob@example.org>
To: Alice <alice@example.com>
Subject: Fwd: Quarterly figures
Date: Thu, 05 Jan 2023 11:00:00 +0000
Message-ID: <fwd-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8

FYI, see below.
--outer
Content-Type: message/rfc822
Content-Disposition: inline

From: Erin <erin@example.com>
To: Bob <bob@example.org>
Cc: Frank <frank@example.com>
Subject: Quarterly figures
Date: Mon, 02 Jan 2023 08:00:00 +0000
Message-ID: <q-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8

Figures attached.
--inner
Content-Type: text/csv; name="figures.csv"
Content-Disposition: attachment; filename="figures.csv"
Content-Transfer-Encoding: base64

` + b64Lines(readerCSV) + `--inner--

--outer--
`)},
		{"inline-image", "Logo inline", crlfBytes(`From: Design <design@example.org>
To: Alice <alice@example.com>
Subject: Logo inline
Date: Fri, 06 Jan 2023 12:00:00 +0000
Message-ID: <img-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>Our new logo:</p><img src="cid:logo@x" alt="the logo">
--rel
Content-Type: image/png; name="logo.png"
Content-Disposition: inline; filename="logo.png"
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

` + b64Lines(readerPNG) + `--rel--
`)},
		{"latin1", "Menü für heute", crlfBytes(`From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <juergen@example.de>
To: Alice <alice@example.com>
Cc: =?ISO-8859-1?Q?G=FCnter?= <guenter@example.de>
Reply-To: Kantine <kantine@example.de>
Subject: =?ISO-8859-1?Q?Men=FC_f=FCr_heute?=
Date: Sat, 07 Jan 2023 13:00:00 +0100
Message-ID: <latin1-1@example.de>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe aus K=F6ln: K=E4se, Sp=E4tzle, Cr=E8me br=FBl=E9e.
`)},
		{"windows-1252", "Quotes and euros", append(crlfBytes(`From: Office <office@example.com>
To: Alice <alice@example.com>
Subject: Quotes and euros
Date: Sun, 08 Jan 2023 14:00:00 +0000
Message-ID: <cp1252-1@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=windows-1252
Content-Transfer-Encoding: 8bit

`), []byte("\x93Quoted\x94 \x96 costs 5 \x80 \x85 done.\r\n")...)},
		{"rfc2231", "Application documents", crlfBytes(`From: Applicant <jobs@example.org>
To: Alice <alice@example.com>
Subject: Application documents
Date: Mon, 09 Jan 2023 15:00:00 +0000
Message-ID: <cv-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/plain; charset=utf-8

Please find my CV attached.
--mix
Content-Type: application/pdf; name*=iso-8859-1''r%E9sum%E9.pdf
Content-Disposition: attachment; filename*=iso-8859-1''r%E9sum%E9.pdf
Content-Transfer-Encoding: base64

` + b64Lines(readerPDF) + `--mix
Content-Type: text/plain; charset=utf-8; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

notes without a final newline
--mix--
`)},
	}
}
