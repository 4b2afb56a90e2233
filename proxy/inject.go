package proxy

import (
	"io"
)

// An injector streams an HTML document and inserts a snippet right after
// the first <body> start tag (or, for a document without one, at its end).
// Until the insertion it holds one chunk of the document in a buffer of
// fixed size; after it, it reads straight into the caller's buffer. The
// memory of a proxied page does not grow with its size.
//
// The scanner knows just enough HTML to find the real <body> tag: it skips
// comments, <!…> declarations, attribute values in quotes, and the raw text
// of script, style, textarea and title elements, where "<body" is text.
type injector struct {
	src      io.ReadCloser
	snippet  []byte
	pending  []byte // snippet bytes still to return
	scan     scanner
	buf      []byte // the chunk buffer, from free
	chunk    []byte // the part of buf not yet returned
	at       int    // where in chunk the snippet goes, or -1
	inserted bool   // the snippet is out, or will not be
	err      error  // the source's error, returned after chunk
	free     func([]byte)
}

// newInjector returns an injector reading src into buf (its chunk
// buffer), which it hands to free at Close.
func newInjector(src io.ReadCloser, snippet, buf []byte, free func([]byte)) *injector {
	return &injector{src: src, snippet: snippet, buf: buf, at: -1, free: free}
}

func (j *injector) Close() error {
	if j.buf != nil && j.free != nil {
		j.free(j.buf)
	}
	j.buf, j.chunk = nil, nil
	return j.src.Close()
}

// Read fills p with as much as is at hand (the page up to <body>, the
// snippet, the rest of the chunk) before it reads the source again, so
// that a page goes out in as few writes (and flushes) as it came in.
func (j *injector) Read(p []byte) (int, error) {
	n, err := j.read1(p)
	for err == nil && n < len(p) && (len(j.pending) > 0 || len(j.chunk) > 0 || j.at == 0) {
		var m int
		m, err = j.read1(p[n:])
		n += m
	}
	if n > 0 && err == io.EOF {
		err = nil // reported by the next call
	}
	return n, err
}

func (j *injector) read1(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		switch {
		case len(j.pending) > 0:
			n := copy(p, j.pending)
			j.pending = j.pending[n:]
			return n, nil
		case j.at == 0:
			j.at, j.inserted, j.pending = -1, true, j.snippet
		case len(j.chunk) > 0:
			end := len(j.chunk)
			if j.at > 0 {
				end = j.at
			}
			n := copy(p, j.chunk[:end])
			j.chunk = j.chunk[n:]
			if j.at > 0 {
				j.at -= n
			}
			return n, nil
		case j.err != nil:
			if j.err == io.EOF && !j.inserted {
				j.inserted = true
				if j.scan.sawTag {
					j.pending = j.snippet
					continue
				}
			}
			return 0, j.err
		case j.inserted:
			return j.src.Read(p) // after the insertion: no copy
		default:
			n, err := j.src.Read(j.buf)
			j.chunk, j.err = j.buf[:n], err
			if n > 0 {
				j.at = j.scan.feed(j.chunk)
			}
			if n == 0 && err == nil {
				return 0, nil
			}
		}
	}
}

// scanner states.
const (
	sText    = iota
	sLT      // after '<'
	sName    // in a start tag's name
	sAttrs   // in a start tag's attributes
	sDQ      // in a double-quoted attribute value
	sSQ      // in a single-quoted attribute value
	sBang    // after "<!"
	sComment // in <!-- … -->
	sDecl    // in <!…> or <?…> or an end tag, to '>'
	sRaw     // in the raw text of script, style, textarea or title
)

// scanner finds the end of the first <body> start tag in a byte stream
// fed in pieces.
type scanner struct {
	state  int
	name   [8]byte // lower-cased start of the current tag name
	nlen   int
	raw    string // the end tag that ends raw text, such as "</script"
	rawi   int    // bytes of raw matched
	dashes int    // consecutive '-' in a comment, or of "<!--" seen
	isBody bool
	sawTag bool // a tag was seen: the document is HTML-ish
}

// rawTags are elements whose content is text up to their end tag.
var rawTags = [...]string{"script", "style", "textarea", "title"}

// feed scans b and returns the index just past the '>' of the <body> start
// tag, or -1 if b does not complete it. After it returns an index, the
// scanner must not be fed again.
func (s *scanner) feed(b []byte) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch s.state {
		case sText:
			if c == '<' {
				s.state = sLT
			}
		case sLT:
			switch {
			case c == '!':
				s.state, s.dashes = sBang, 0
			case c == '/' || c == '?':
				s.state = sDecl
			case isLetter(c):
				s.state, s.nlen, s.isBody = sName, 0, false
				s.addName(c)
			case c == '<':
			default:
				s.state = sText
			}
		case sName:
			switch {
			case c == '>' || c == '/' || isSpace(c):
				s.endName()
				if c == '>' {
					if i := s.endTag(i); i >= 0 {
						return i
					}
				} else {
					s.state = sAttrs
				}
			default:
				s.addName(c)
			}
		case sAttrs:
			switch c {
			case '"':
				s.state = sDQ
			case '\'':
				s.state = sSQ
			case '>':
				if i := s.endTag(i); i >= 0 {
					return i
				}
			}
		case sDQ:
			if c == '"' {
				s.state = sAttrs
			}
		case sSQ:
			if c == '\'' {
				s.state = sAttrs
			}
		case sBang:
			if c == '-' {
				s.dashes++
				if s.dashes == 2 {
					s.state, s.dashes = sComment, 0
				}
			} else if c == '>' {
				s.state = sText
			} else {
				s.state = sDecl
			}
		case sComment:
			switch {
			case c == '-':
				s.dashes++
			case c == '>' && s.dashes >= 2:
				s.state = sText
			default:
				s.dashes = 0
			}
		case sDecl:
			if c == '>' {
				s.state = sText
			}
		case sRaw:
			want := s.raw[s.rawi]
			if lower(c) == want {
				s.rawi++
				if s.rawi == len(s.raw) {
					s.state = sDecl // the rest of the end tag
				}
			} else if c == '<' {
				s.rawi = 1
			} else {
				s.rawi = 0
			}
		}
	}
	return -1
}

func (s *scanner) addName(c byte) {
	if s.nlen < len(s.name) {
		s.name[s.nlen] = lower(c)
	}
	s.nlen++
}

func (s *scanner) endName() {
	s.sawTag = true
	s.isBody = s.nlen == 4 && string(s.name[:4]) == "body"
}

// endTag handles the '>' at index i that ends a start tag: it returns i+1
// for <body>, or -1 after entering the right state.
func (s *scanner) endTag(i int) int {
	if s.isBody {
		return i + 1
	}
	s.state = sText
	if s.nlen <= len(s.name) {
		n := string(s.name[:s.nlen])
		for _, t := range rawTags {
			if n == t {
				s.state, s.raw, s.rawi = sRaw, "</"+t, 0
			}
		}
	}
	return -1
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
