package rule

import (
	"strconv"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokLParen
	tokRParen
	tokComma
	tokAnd
	tokOr
	tokNot
)

var tokNames = [...]string{
	tokEOF:    "the end of the rule",
	tokIdent:  "a matcher name",
	tokString: "a quoted value",
	tokLParen: "(",
	tokRParen: ")",
	tokComma:  ",",
	tokAnd:    "&&",
	tokOr:     "||",
	tokNot:    "!",
}

type token struct {
	kind tokKind
	text string // the identifier, or a string's value (unquoted)
	pos  int    // byte offset in the rule
}

// describe names a token in an error: "&&", "`x`", "the end of the rule".
func (t token) describe() string {
	switch t.kind {
	case tokIdent:
		return t.text
	case tokString:
		return "the value " + strconv.Quote(t.text)
	}
	return tokNames[t.kind]
}

// lexer reads a rule as Traefik's parser does: Traefik hands the rule to Go's
// expression parser (go/parser via vulcand/predicate), so its tokens are Go's:
// identifiers, string literals (`raw` or "interpreted", with Go's escapes),
// parentheses, commas, &&, || and !, separated by Go's white space (space,
// tab, CR, LF). Go's semicolon rule applies: a line break right after an
// identifier, a string or ")" ends the expression, so anything after it is
// an error there, and here.
type lexer struct {
	src string
	pos int
	// endsOperand: the last token was an identifier, a string or ")", after
	// which Go's scanner turns a line break into a semicolon.
	endsOperand bool
}

// next returns the next token, or an error with its offset.
func (l *lexer) next() (token, *posError) {
	newline := false
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == '\n' {
			newline = true
		} else if c != ' ' && c != '\t' && c != '\r' {
			break
		}
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	if newline && l.endsOperand {
		return token{}, errAt(start, "a line break after a matcher, a value or \")\" ends a Traefik rule (Go's semicolon rule); break the line after && or || instead")
	}
	c := l.src[l.pos]
	one := func(k tokKind) (token, *posError) {
		l.pos++
		l.endsOperand = k == tokRParen
		return token{kind: k, pos: start}, nil
	}
	switch {
	case c == '(':
		return one(tokLParen)
	case c == ')':
		return one(tokRParen)
	case c == ',':
		return one(tokComma)
	case c == '!':
		return one(tokNot)
	case c == '&' || c == '|':
		if l.pos+1 < len(l.src) && l.src[l.pos+1] == c {
			l.pos += 2
			l.endsOperand = false
			if c == '&' {
				return token{kind: tokAnd, pos: start}, nil
			}
			return token{kind: tokOr, pos: start}, nil
		}
		return token{}, errAt(start, "%q: the operators are &&, || and !", string(c))
	case c == '`' || c == '"':
		return l.str(c)
	case c == '\'':
		return token{}, errAt(start, "single quotes are not accepted: Traefik's values are Go string literals, in backticks or double quotes")
	case isLetter(c):
		end := l.pos
		for end < len(l.src) && (isLetter(l.src[end]) || '0' <= l.src[end] && l.src[end] <= '9') {
			end++
		}
		l.pos = end
		l.endsOperand = true
		return token{kind: tokIdent, text: l.src[start:end], pos: start}, nil
	case c == '/' && l.pos+1 < len(l.src) && (l.src[l.pos+1] == '/' || l.src[l.pos+1] == '*'):
		return token{}, errAt(start, "comments are not accepted in a rule")
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, errAt(start, "unexpected character %q", r)
}

// str reads a Go string literal: backticks (raw: no escapes, CRs dropped) or
// double quotes (Go's escapes, no line break inside).
func (l *lexer) str(q byte) (token, *posError) {
	start := l.pos
	end := start + 1
	for ; end < len(l.src); end++ {
		c := l.src[end]
		if c == q {
			break
		}
		if q == '"' {
			if c == '\n' {
				return token{}, errAt(start, "a line break inside a double-quoted value")
			}
			if c == '\\' {
				end++
			}
		}
	}
	if end >= len(l.src) {
		return token{}, errAt(start, "the value starting here has no closing %c", q)
	}
	lit := l.src[start : end+1]
	v, err := strconv.Unquote(lit)
	if err != nil {
		return token{}, errAt(start, "invalid escape in the value %s (Go string literal syntax)", lit)
	}
	l.pos = end + 1
	l.endsOperand = true
	return token{kind: tokString, text: v, pos: start}, nil
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}
