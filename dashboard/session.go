package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// sessions are stateless: a cookie is nonce.expiry.mac under a key derived
// from the admin token, so a restarted baton still knows its browsers (the
// token is entered once) and a changed token ends every session. Without a
// token (a loopback dashboard) the key is random per process; the page asks
// for a fresh session when its stream reconnects.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func newSessions(token string, ttl time.Duration) *sessions {
	key := make([]byte, 32)
	if token != "" {
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("baton dashboard session key"))
		key = m.Sum(nil)
	} else {
		_, _ = rand.Read(key)
	}
	return &sessions{key: key, ttl: ttl, now: time.Now}
}

func (s *sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(m.Sum(nil))
}

// issue returns a new session cookie value.
func (s *sessions) issue() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	exp := strconv.FormatInt(s.now().Add(s.ttl).Unix(), 10)
	return nonce + "." + exp + "." + s.mac("session", nonce, exp)
}

// valid reports whether v is a session this key issued and it has not expired.
func (s *sessions) valid(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.now().Unix() > exp {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(parts[2]), []byte(s.mac("session", parts[0], parts[1]))) == 1
}

// csrf is the token a POST must carry with session v: bound to the cookie,
// so a token read on one session is worth nothing with another (OWASP's
// "signed double-submit cookie").
func (s *sessions) csrf(v string) string { return s.mac("csrf", v) }

func (s *sessions) csrfOK(v, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf(v))) == 1
}
