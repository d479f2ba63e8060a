package rule

import (
	"strconv"
	"strings"
)

// String writes the subtree in canonical form (see Rule.String).
func (n *node) String() string {
	var b strings.Builder
	n.write(&b, kOr)
	return b.String()
}

// write appends n; ctx is the operator n is an operand of (kOr at the top,
// where nothing needs parentheses).
func (n *node) write(b *strings.Builder, ctx kind) {
	switch n.kind {
	case kOr:
		paren := ctx == kAnd
		if paren {
			b.WriteByte('(')
		}
		n.left.write(b, kOr)
		b.WriteString(" || ")
		n.right.write(b, kOr)
		if paren {
			b.WriteByte(')')
		}
	case kAnd:
		n.left.write(b, kAnd)
		b.WriteString(" && ")
		n.right.write(b, kAnd)
	default:
		if n.not {
			b.WriteByte('!')
		}
		b.WriteString(n.name)
		b.WriteByte('(')
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(a))
		}
		b.WriteByte(')')
	}
}

// quote writes a value as a Go string literal: raw in backticks when it can
// be (a raw literal cannot hold a backtick, drops CRs, and Parse refuses
// invalid UTF-8, NULs and byte order marks in a rule), else quoted.
func quote(s string) string {
	if !strings.ContainsAny(s, "`\r") && badByte(s) < 0 {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
