package middleware

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// basicAuth is Traefik's basicAuth: a request goes on only with an
// Authorization: Basic header naming one of users with its password;
// otherwise it is answered 401 with WWW-Authenticate: Basic realm="<realm>"
// (realm "traefik" by default) and the body "401 Unauthorized\n", as Traefik
// answers.
//
//   - users: comma-separated htpasswd lines, name:hash. The hash must be
//     one baton can verify: bcrypt ($2y$, $2b$, $2a$), MD5-crypt ($apr1$,
//     htpasswd -m; $1$, openssl passwd -1) or SHA-1 ({SHA}, htpasswd -s).
//     Plain text, crypt(3) DES, SHA-crypt ($5$, $6$) and anything else are
//     refused when the middleware is built, naming the user: Traefik would
//     take the line and never let that user in, baton says so instead.
//     A hash is taken as the label gives it: Compose un-doubles "$$" before
//     the label reaches Docker.
//   - usersFile: refused; baton reads no files named by labels.
//   - realm: the realm of the challenge.
//   - removeHeader: the Authorization header is not forwarded upstream.
//   - headerField: the authenticated user's name is set upstream in this
//     header (replacing any the client sent).
//
// Verifying a bcrypt hash takes tens of milliseconds; a browser sends the
// credentials with every request. So each user keeps a digest of the last
// password verified for it (SHA-256 under a key random to this middleware,
// compared in constant time): the next request with the same password costs
// a hash, not a bcrypt. Only verified passwords are remembered, one per user,
// so the memory is bounded by the users list; a wrong password is verified
// every time (concurrent attempts with the same credentials share one
// verification). A user unknown to the list is verified against another
// user's hash, so that the answer takes as long as for a known user.
func init() { register("basicauth", newBasicAuth) }

const basicAuthDefaultRealm = "traefik"

type basicAuth struct {
	next         http.Handler
	users        map[string]*htUser
	decoy        *htUser // verified for unknown users, for the time it takes
	challenge    []string
	headerField  string
	removeHeader bool
	key          [32]byte
	log          *zap.Logger

	mu      sync.Mutex
	flights map[[32]byte]*authFlight

	// verifications counts the hash verifications run (not the cached
	// answers): the tests read it.
	verifications atomic.Int64
}

type htUser struct {
	name   string
	verify func(password string) bool
	// verified is the digest of the last password verified for the user.
	verified atomic.Pointer[[32]byte]
}

type authFlight struct {
	done chan struct{}
	ok   bool
}

func newBasicAuth(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	b := &basicAuth{next: next, users: map[string]*htUser{}, flights: map[[32]byte]*authFlight{}, log: kindLogger(s, env)}
	if f, ok := o.get("usersfile"); ok {
		return nil, &OptionError{Option: "usersfile", Value: f, Reason: "baton reads no files named by labels; put the htpasswd lines in users"}
	}
	v, ok := o.get("users")
	lines := list(v)
	if !ok || len(lines) == 0 {
		return nil, &OptionError{Option: "users", Value: "", Reason: "required: at least one htpasswd line, name:hash"}
	}
	for _, line := range lines {
		u, err := parseHTUser(line)
		if err != nil {
			return nil, err
		}
		// As in Traefik, a later line for the same user replaces an earlier one.
		b.users[u.name] = u
		if b.decoy == nil {
			b.decoy = u
		}
	}
	realm := basicAuthDefaultRealm
	if r, ok := o.get("realm"); ok && r != "" {
		for i := 0; i < len(r); i++ {
			if c := r[i]; c == '"' || c == '\\' || c < 0x20 || c == 0x7f {
				return nil, &OptionError{Option: "realm", Value: r, Reason: "a realm with quotes, backslashes or control characters would break the WWW-Authenticate header"}
			}
		}
		realm = r
	}
	b.challenge = []string{`Basic realm="` + realm + `"`}
	var err error
	if b.removeHeader, _, err = accessBool(o, "removeheader"); err != nil {
		return nil, err
	}
	if hf, ok := o.get("headerfield"); ok && hf != "" {
		if !isHeaderToken(hf) {
			return nil, &OptionError{Option: "headerfield", Value: hf, Reason: "not an HTTP header name"}
		}
		b.headerField = hf
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(rand.Reader, b.key[:]); err != nil {
		return nil, err
	}
	return b, nil
}

// parseHTUser reads one htpasswd line. Errors name the user, never the hash.
func parseHTUser(line string) (*htUser, error) {
	name, hash, ok := strings.Cut(line, ":")
	if !ok || strings.Contains(hash, ":") {
		shown, _, _ := strings.Cut(line, ":")
		return nil, &OptionError{Option: "users", Value: shown + ":…", Reason: "not an htpasswd line name:hash (one colon)"}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return nil, &OptionError{Option: "users", Value: "…", Reason: "a user name with control characters"}
		}
	}
	shown := name + ":…"
	refuse := func(reason string) (*htUser, error) {
		return nil, &OptionError{Option: "users", Value: shown, Reason: "user " + name + ": " + reason}
	}
	if name == "" {
		return refuse("an empty user name")
	}
	u := &htUser{name: name}
	switch {
	case strings.HasPrefix(hash, "$2y$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2a$"):
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return refuse("not a valid bcrypt hash (" + err.Error() + ")")
		}
		h := []byte(hash)
		u.verify = func(p string) bool { return bcrypt.CompareHashAndPassword(h, []byte(p)) == nil }
	case strings.HasPrefix(hash, "$2x$"):
		return refuse("a $2x$ bcrypt hash (crypt_blowfish's flag for its old 8-bit bug) is not verified by baton; make a new one with htpasswd -B")
	case strings.HasPrefix(hash, "$apr1$"), strings.HasPrefix(hash, "$1$"):
		magic, salt, ok := splitMD5Crypt(hash)
		if !ok {
			return refuse("not a valid MD5-crypt hash ($apr1$salt$checksum)")
		}
		want := []byte(hash)
		u.verify = func(p string) bool {
			return subtle.ConstantTimeCompare(md5Crypt([]byte(p), salt, magic), want) == 1
		}
	case strings.HasPrefix(hash, "{SHA}"):
		want, err := base64.StdEncoding.DecodeString(hash[len("{SHA}"):])
		if err != nil || len(want) != sha1.Size {
			return refuse("not a valid {SHA} hash (base64 of a SHA-1 digest)")
		}
		u.verify = func(p string) bool {
			got := sha1.Sum([]byte(p))
			return subtle.ConstantTimeCompare(got[:], want) == 1
		}
	case strings.HasPrefix(hash, "$$"):
		return refuse("the hash starts with $$: in a label set outside Compose, write each $ once (Compose un-doubles $$ itself)")
	case strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		return refuse("SHA-crypt ($5$, $6$) is not a hash Traefik or baton verifies; use htpasswd -B (bcrypt)")
	default:
		return refuse("the password is not a hash baton can verify (bcrypt $2y$, MD5 $apr1$, or {SHA}): plain text and crypt(3) DES are refused; make one with htpasswd -B")
	}
	return u, nil
}

func (b *basicAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	if !ok || !b.check(user, password) {
		if ce := b.log.Check(zap.DebugLevel, "basicAuth: authentication failed"); ce != nil {
			ce.Write(zap.String("user", user))
		}
		h := w.Header()
		h["Content-Type"] = textPlain
		h["Www-Authenticate"] = b.challenge
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "401 Unauthorized\n")
		return
	}
	if b.headerField != "" {
		// Under the canonical name (Traefik sets the name as configured, a
		// TODO of theirs; the upstream sees the same field), replacing any
		// the client sent.
		r.Header.Set(b.headerField, user)
	}
	if b.removeHeader {
		delete(r.Header, "Authorization")
	}
	b.next.ServeHTTP(w, r)
}

var textPlain = []string{"text/plain"}

// check reports whether password is user's.
func (b *basicAuth) check(user, password string) bool {
	d := b.digest(user, password)
	u := b.users[user]
	if u != nil {
		if v := u.verified.Load(); v != nil && subtle.ConstantTimeCompare(v[:], d[:]) == 1 {
			return true
		}
	}
	return b.verify(u, password, d)
}

// verify runs the hash verification, once for concurrent requests with the
// same credentials; a success is remembered for the user.
func (b *basicAuth) verify(u *htUser, password string, d [32]byte) bool {
	b.mu.Lock()
	if f := b.flights[d]; f != nil {
		b.mu.Unlock()
		<-f.done
		return f.ok
	}
	f := &authFlight{done: make(chan struct{})}
	b.flights[d] = f
	b.mu.Unlock()

	b.verifications.Add(1)
	if u == nil {
		b.decoy.verify(password)
	} else if f.ok = u.verify(password); f.ok {
		u.verified.Store(&d)
	}

	b.mu.Lock()
	delete(b.flights, d)
	b.mu.Unlock()
	close(f.done)
	return f.ok
}

// digest is SHA-256 of the middleware's key, the user and the password.
func (b *basicAuth) digest(user, password string) [32]byte {
	var buf [256]byte
	n := len(b.key) + len(user) + 1 + len(password)
	s := buf[:0]
	if n > len(buf) {
		s = make([]byte, 0, n)
	}
	s = append(s, b.key[:]...)
	s = append(s, user...)
	s = append(s, 0)
	s = append(s, password...)
	d := sha256.Sum256(s)
	clear(s)
	return d
}

// MD5-crypt, the algorithm of FreeBSD's crypt(3) "$1$" that Apache's
// htpasswd uses with the magic "$apr1$": 1000 rounds of MD5 over the
// password and a salt of at most 8 characters, in crypt's base-64 alphabet.

const cryptB64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// splitMD5Crypt splits "$apr1$salt$checksum" (or "$1$...").
func splitMD5Crypt(hash string) (magic, salt []byte, ok bool) {
	m := "$apr1$"
	if strings.HasPrefix(hash, "$1$") {
		m = "$1$"
	}
	rest := hash[len(m):]
	s, sum, found := strings.Cut(rest, "$")
	if !found || len(s) > 8 || len(sum) != 22 {
		return nil, nil, false
	}
	for i := 0; i < len(sum); i++ {
		if strings.IndexByte(cryptB64, sum[i]) < 0 {
			return nil, nil, false
		}
	}
	return []byte(m), []byte(s), true
}

// md5Crypt returns magic + salt + "$" + the checksum of password.
func md5Crypt(password, salt, magic []byte) []byte {
	alt := md5.New()
	alt.Write(password)
	alt.Write(salt)
	alt.Write(password)
	final := alt.Sum(nil)

	d := md5.New()
	d.Write(password)
	d.Write(magic)
	d.Write(salt)
	for n := len(password); n > 0; n -= md5.Size {
		d.Write(final[:min(n, md5.Size)])
	}
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			d.Write([]byte{0})
		} else {
			d.Write(password[:1])
		}
	}
	final = d.Sum(nil)

	for i := 0; i < 1000; i++ {
		r := md5.New()
		if i&1 != 0 {
			r.Write(password)
		} else {
			r.Write(final)
		}
		if i%3 != 0 {
			r.Write(salt)
		}
		if i%7 != 0 {
			r.Write(password)
		}
		if i&1 != 0 {
			r.Write(final)
		} else {
			r.Write(password)
		}
		final = r.Sum(final[:0])
	}

	out := make([]byte, 0, len(magic)+len(salt)+1+22)
	out = append(out, magic...)
	out = append(out, salt...)
	out = append(out, '$')
	enc := func(a, b, c byte, n int) {
		v := uint(a)<<16 | uint(b)<<8 | uint(c)
		for ; n > 0; n-- {
			out = append(out, cryptB64[v&0x3f])
			v >>= 6
		}
	}
	enc(final[0], final[6], final[12], 4)
	enc(final[1], final[7], final[13], 4)
	enc(final[2], final[8], final[14], 4)
	enc(final[3], final[9], final[15], 4)
	enc(final[4], final[10], final[5], 4)
	enc(0, 0, final[11], 2)
	return out
}
