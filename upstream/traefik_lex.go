package upstream

type tokKind int

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
	tokBad
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// next reads the next token of a Traefik rule into p.tok.
func (p *ruleParser) next() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return
	}
	c := p.src[p.pos]
	switch {
	case c == '(':
		p.pos++
		p.tok = token{tokLParen, "(", start}
	case c == ')':
		p.pos++
		p.tok = token{tokRParen, ")", start}
	case c == ',':
		p.pos++
		p.tok = token{tokComma, ",", start}
	case c == '!':
		p.pos++
		p.tok = token{tokNot, "!", start}
	case c == '&' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '&':
		p.pos += 2
		p.tok = token{tokAnd, "&&", start}
	case c == '|' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '|':
		p.pos += 2
		p.tok = token{tokOr, "||", start}
	case c == '`' || c == '"' || c == '\'':
		end := p.pos + 1
		for end < len(p.src) && p.src[end] != c {
			end++
		}
		if end >= len(p.src) {
			p.pos = len(p.src)
			p.tok = token{tokBad, p.src[start:], start}
			return
		}
		p.tok = token{tokString, p.src[p.pos+1 : end], start}
		p.pos = end + 1
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		end := p.pos
		for end < len(p.src) && (p.src[end] >= 'A' && p.src[end] <= 'Z' || p.src[end] >= 'a' && p.src[end] <= 'z' || p.src[end] >= '0' && p.src[end] <= '9') {
			end++
		}
		p.tok = token{tokIdent, p.src[p.pos:end], start}
		p.pos = end
	default:
		p.pos++
		p.tok = token{tokBad, string(c), start}
	}
}
