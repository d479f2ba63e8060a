package middleware

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Vectors made with openssl passwd -apr1 / -1 and sha1 | base64 (htpasswd
// -m and -s make the same), and the examples of Traefik's documentation.
var htVectors = []struct{ hash, password string }{
	{"$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "test"},
	{"$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0", "test2"},
	{"$apr1$a$lsAcX0kKaMIVmrCtUuk5b0", ""},
	{"$apr1$12345678$8E.Q6NYh5u0vOy5VmmPI00", "a-much-longer-password-than-16-bytes-éü"},
	{"$1$saltsalt$1K7dkhtbTNVUwUicA5kOT1", "pass word"},
	{"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret"},
}

func TestMD5Crypt(t *testing.T) {
	for _, v := range htVectors {
		if !strings.HasPrefix(v.hash, "$") {
			continue
		}
		magic, salt, ok := splitMD5Crypt(v.hash)
		if !ok {
			t.Fatalf("%s: not split", v.hash)
		}
		if got := string(md5Crypt([]byte(v.password), salt, magic)); got != v.hash {
			t.Errorf("md5Crypt(%q) = %s, want %s", v.password, got, v.hash)
		}
	}
}

func basicReq(user, password string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

func TestBasicAuthHashes(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	vectors := append([]struct{ hash, password string }{}, htVectors...)
	vectors = append(vectors,
		struct{ hash, password string }{string(bc), "bcrypt-pw"}, // $2a$
		struct{ hash, password string }{"$2y$" + string(bc[4:]), "bcrypt-pw"},
		struct{ hash, password string }{"$2b$" + string(bc[4:]), "bcrypt-pw"},
	)
	for _, v := range vectors {
		next := &recorder{}
		h := build(t, "basicauth", Env{}, next, "users", "alice:"+v.hash)
		if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("alice", v.password)...); w.Code != 200 {
			t.Errorf("%s with its password: status %d, want 200", v.hash, w.Code)
		}
		if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("alice", v.password+"x")...); w.Code != 401 {
			t.Errorf("%s with a wrong password: status %d, want 401", v.hash, w.Code)
		}
		if next.count() != 1 {
			t.Errorf("%s: the upstream got %d requests, want 1", v.hash, next.count())
		}
	}
}

func TestBasicAuthChallenge(t *testing.T) {
	next := &recorder{}
	users := "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/,test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0"
	for _, c := range []struct {
		name  string
		realm []string
		hdr   []string
		want  string
	}{
		{"no credentials", nil, nil, `Basic realm="traefik"`},
		{"wrong password", nil, basicReq("test", "nope"), `Basic realm="traefik"`},
		{"another user's password", nil, basicReq("test", "test2"), `Basic realm="traefik"`},
		{"unknown user", nil, basicReq("mallory", "test"), `Basic realm="traefik"`},
		{"not basic", nil, []string{"Authorization", "Bearer abc"}, `Basic realm="traefik"`},
		{"bad base64", nil, []string{"Authorization", "Basic !!!"}, `Basic realm="traefik"`},
		{"realm", []string{"realm", "my app"}, nil, `Basic realm="my app"`},
	} {
		kv := append([]string{"users", users}, c.realm...)
		h := build(t, "basicauth", Env{}, next, kv...)
		w := do(h, "GET", "http://app.example/", "10.0.0.1:1", c.hdr...)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", c.name, w.Code)
		}
		if got := w.Header().Values("WWW-Authenticate"); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, got, c.want)
		}
		if w.Body.String() != "401 Unauthorized\n" || w.Header().Get("Content-Type") != "text/plain" {
			t.Errorf("%s: body %q, Content-Type %q: want Traefik's", c.name, w.Body.String(), w.Header().Get("Content-Type"))
		}
	}
	if next.count() != 0 {
		t.Errorf("the upstream got %d unauthenticated requests", next.count())
	}
	h := build(t, "basicauth", Env{}, next, "users", users)
	for _, u := range [][2]string{{"test", "test"}, {"test2", "test2"}} {
		if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq(u[0], u[1])...); w.Code != 200 || w.Body.String() != "upstream" {
			t.Errorf("%s: status %d body %q, want the upstream's 200", u[0], w.Code, w.Body.String())
		}
	}
}

func TestBasicAuthUpstreamHeaders(t *testing.T) {
	users := "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"
	creds := basicReq("test", "test")

	next := &recorder{}
	h := build(t, "basicauth", Env{}, next, "users", users)
	do(h, "GET", "http://app.example/", "10.0.0.1:1", creds...)
	if got := next.last(t).Header.Get("Authorization"); got != creds[1] {
		t.Errorf("Authorization upstream %q, want it kept without removeHeader", got)
	}

	h = build(t, "basicauth", Env{}, next, "users", users, "removeheader", "true")
	do(h, "GET", "http://app.example/", "10.0.0.1:1", creds...)
	if got, ok := next.last(t).Header["Authorization"]; ok {
		t.Errorf("removeHeader: Authorization upstream %q", got)
	}

	h = build(t, "basicauth", Env{}, next, "users", users, "headerfield", "X-WebAuth-User")
	// A client's own X-WebAuth-User does not reach the upstream.
	do(h, "GET", "http://app.example/", "10.0.0.1:1", append(creds, "X-Webauth-User", "admin")...)
	up := next.last(t).Header
	if got := up.Values("X-WebAuth-User"); len(got) != 1 || got[0] != "test" {
		t.Errorf("headerField: upstream X-WebAuth-User %q, want [test]", got)
	}
}

func TestBasicAuthRefused(t *testing.T) {
	next := &recorder{}
	for _, c := range []struct {
		kv     []string
		option string
		user   string // the error names this user, not the hash
	}{
		{nil, "users", ""},
		{[]string{"users", " , "}, "users", ""},
		{[]string{"users", "alice:s3cr3tpw"}, "users", "alice"},                  // plain text
		{[]string{"users", "alice:abJnggxhB/yWI"}, "users", "alice"},             // crypt(3) DES
		{[]string{"users", "bob:$5$saltsalt$abc"}, "users", "bob"},               // SHA-256 crypt
		{[]string{"users", "bob:$6$saltsalt$abc"}, "users", "bob"},               // SHA-512 crypt
		{[]string{"users", "bob:$2x$10$abcdefghijklmnopqrstuu"}, "users", "bob"}, // $2x$
		{[]string{"users", "bob:$2y$10$tooshort"}, "users", "bob"},               // malformed bcrypt
		{[]string{"users", "carol:$$apr1$$H6uskkkW$$IgXLP6ewTrSuBkTrqE8wj/"}, "users", "carol"},
		{[]string{"users", "carol:$apr1$H6uskkkW$short"}, "users", "carol"},
		{[]string{"users", "carol:{SHA}notbase64!"}, "users", "carol"},
		{[]string{"users", "carol:{SHA}c2hvcnQ="}, "users", "carol"},
		{[]string{"users", "dave"}, "users", "dave"},
		{[]string{"users", "dave:a:b"}, "users", "dave"},
		{[]string{"users", ":$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"}, "users", ""},
		{[]string{"users", "ok:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/,eve:pl4intxt"}, "users", "eve"},
		{[]string{"usersfile", "/etc/htpasswd"}, "usersfile", ""},
		{[]string{"users", "a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "usersfile", "/etc/htpasswd"}, "usersfile", ""},
		{[]string{"users", "a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "realm", `a"b`}, "realm", ""},
		{[]string{"users", "a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "headerfield", "X-User: x"}, "headerfield", ""},
		{[]string{"users", "a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "removeheader", "yes please"}, "removeheader", ""},
		{[]string{"users", "a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "realms", "x"}, "realms", ""},
	} {
		_, err := buildErr("basicauth", Env{}, next, c.kv...)
		wantOptionError(t, err, c.option)
		msg := err.Error()
		if c.user != "" && !strings.Contains(msg, c.user) {
			t.Errorf("%v: the error does not name user %s: %v", c.kv, c.user, err)
		}
		if c.option == "users" {
			for _, secret := range []string{"s3cr3tpw", "abJnggxhB", "saltsalt", "H6uskkkW", "tooshort", "pl4intxt", "c2hvcnQ", "notbase64"} {
				if strings.Contains(msg, secret) {
					t.Errorf("%v: the error shows the hash: %v", c.kv, err)
				}
			}
		}
	}
}

// The verified password is remembered: bcrypt runs once, not per request.
func TestBasicAuthCache(t *testing.T) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	next := &recorder{}
	h := build(t, "basicauth", Env{}, next, "users", "alice:"+string(bc)+",bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=")
	b := h.(*basicAuth)
	for i := 0; i < 50; i++ {
		if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("alice", "pw")...); w.Code != 200 {
			t.Fatalf("request %d: status %d", i, w.Code)
		}
	}
	if n := b.verifications.Load(); n != 1 {
		t.Errorf("50 requests with the same credentials ran %d verifications, want 1", n)
	}
	// Failures are not remembered: each is verified, and none lets the user in.
	for i := 0; i < 3; i++ {
		if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("alice", "wrong")...); w.Code != 401 {
			t.Fatalf("wrong password: status %d", w.Code)
		}
	}
	if n := b.verifications.Load(); n != 4 {
		t.Errorf("after 3 wrong passwords: %d verifications, want 4", n)
	}
	// The remembered password is alice's only.
	if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("bob", "pw")...); w.Code != 401 {
		t.Errorf("alice's password for bob: status %d, want 401", w.Code)
	}
	if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("alice", "pw")...); w.Code != 200 {
		t.Errorf("alice after failures: status %d", w.Code)
	}
	// An unknown user costs a verification too (of the decoy, another
	// user's hash), and fails.
	decoyRuns := 0
	decoy := b.decoy.verify
	b.decoy.verify = func(p string) bool { decoyRuns++; return decoy(p) }
	if w := do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("mallory", "pw")...); w.Code != 401 {
		t.Errorf("unknown user: status %d", w.Code)
	}
	if decoyRuns != 1 {
		t.Errorf("an unknown user was answered after %d verifications, want 1 (timing would tell users apart)", decoyRuns)
	}
}

// Concurrent requests with the same new credentials share one verification.
func TestBasicAuthConcurrentVerification(t *testing.T) {
	next := &recorder{}
	h := build(t, "basicauth", Env{}, next, "users", "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=")
	b := h.(*basicAuth)
	u := b.users["alice"]
	slow := u.verify
	u.verify = func(p string) bool { time.Sleep(100 * time.Millisecond); return slow(p) }
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = do(h, "GET", "http://app.example/", "10.0.0.1:1", basicReq("alice", "secret")...).Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if n := b.verifications.Load(); n > 2 {
		t.Errorf("20 concurrent requests ran %d verifications", n)
	}
}

func benchBasicAuth(b *testing.B, password string, wantCode int) {
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	h, err := buildErr("basicauth", Env{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "users", "alice:"+string(bc))
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://app.example/", nil)
	r.SetBasicAuth("alice", password)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != wantCode {
		b.Fatalf("status %d", w.Code)
	}
	nw := sinkWriter{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(nw, r)
	}
}

// BenchmarkBasicAuthCached is a route with basicAuth (bcrypt, cost 10) and a
// client that sends its credentials with every request.
func BenchmarkBasicAuthCached(b *testing.B) { benchBasicAuth(b, "correct horse", 200) }

// BenchmarkBasicAuthWrongPassword is what every request would cost without
// the cache (and what each wrong password costs).
func BenchmarkBasicAuthWrongPassword(b *testing.B) { benchBasicAuth(b, "wrong", 401) }
