package check

import (
	"errors"
	"strings"
	"testing"
)

func parse(t *testing.T, src string, env map[string]string) *File {
	t.Helper()
	f, err := Parse("compose.yaml", []byte(src), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestParseLabelsAsMapOrListWithLines(t *testing.T) {
	f := parse(t, `
x-common: &common
  traefik.enable: "true"
services:
  list:
    labels:
      - "traefik.http.routers.a.rule=Host(`+"`a.test`"+`)"
      - traefik.http.routers.a.priority=10
      - flag
  map:
    labels:
      <<: *common
      traefik.http.services.m.loadBalancer.server.port: 8080
      traefik.enable: "false"
      empty:
`, nil)
	if len(f.Services) != 2 || f.Services[0].Name != "list" || f.Services[1].Name != "map" {
		t.Fatalf("services in file order: %+v", f.Services)
	}
	l, m := f.Services[0], f.Services[1]
	if l.Labels["traefik.http.routers.a.rule"] != "Host(`a.test`)" || l.Labels["traefik.http.routers.a.priority"] != "10" || l.Labels["flag"] != "" {
		t.Errorf("list labels: %v", l.Labels)
	}
	if l.Where["traefik.http.routers.a.priority"] != "compose.yaml:8" || l.Pos != "compose.yaml:5" {
		t.Errorf("list lines: %v, service at %s", l.Where, l.Pos)
	}
	// The mapping's own key wins over the merged one (YAML merge keys).
	if m.Labels["traefik.enable"] != "false" || m.Labels["traefik.http.services.m.loadBalancer.server.port"] != "8080" || m.Labels["empty"] != "" {
		t.Errorf("map labels: %v", m.Labels)
	}
}

func TestParsePortsExposeAndNetworks(t *testing.T) {
	f := parse(t, `
services:
  web:
    expose: ["3000", 4000, "5000/udp", "6000-6001"]
    ports:
      - "8080:80"
      - "127.0.0.1:8443:443/tcp"
      - "[::1]:9000:9001"
      - "53:53/udp"
      - 7000
      - target: 2368
        published: "2368"
        protocol: tcp
    networks:
      proxy:
        aliases: [web]
      default: null
  side:
    network_mode: "service:web"
networks:
  proxy:
    external: true
  legacy:
    external:
      name: old-net
  default:
    name: blog_default
`, nil)
	web := f.Services[0]
	want := "3000/tcp 4000/tcp 5000/udp 6000/tcp 6001/tcp 80/tcp 443/tcp 9001/tcp 53/udp 7000/tcp 2368/tcp"
	if got := strings.Join(web.Ports, " "); got != want {
		t.Errorf("ports %s\nwant  %s", got, want)
	}
	if strings.Join(web.Networks, ",") != "proxy,default" || f.Services[1].NetworkMode != "service:web" {
		t.Errorf("networks %v, mode %q", web.Networks, f.Services[1].NetworkMode)
	}
	p := NewProject("blog", []string{"compose.yaml"}, []*File{f})
	for key, want := range map[string]string{"proxy": "proxy", "legacy": "old-net", "default": "blog_default", "other": "blog_other"} {
		if got := p.dockerNetwork(key); got != want {
			t.Errorf("network %s is %s in Docker, want %s", key, got, want)
		}
	}
	c := p.Container(web)
	if _, ok := c.NetworkSettings.Networks["proxy"]; !ok || c.Name != "/blog-web-1" || c.Config.Labels["com.docker.compose.project"] != "blog" {
		t.Errorf("container: %s %v %v", c.Name, c.NetworkSettings.Networks, c.Config.Labels)
	}
	if n := len(p.Container(f.Services[1]).NetworkSettings.Networks); n != 0 {
		t.Errorf("another container's network stack: %d networks, Docker lists none", n)
	}
}

func TestParseInterpolatesAsCompose(t *testing.T) {
	env := map[string]string{"DOMAIN": "shop.example.com", "EMPTY": ""}
	cases := []struct{ in, want string }{
		{"Host(`${DOMAIN}`)", "Host(`shop.example.com`)"},
		{"Host(`$DOMAIN`)", "Host(`shop.example.com`)"},
		{"admin:$$apr1$$x", "admin:$apr1$x"},
		{"${MISSING:-a.test}", "a.test"},
		{"${EMPTY:-a.test}", "a.test"},
		{"${EMPTY-a.test}", ""},
		{"${DOMAIN:+set}", "set"},
		{"${MISSING:-${DOMAIN}}", "shop.example.com"},
		{"^https://www\\.(.*)$$", "^https://www\\.(.*)$"},
	}
	for _, tc := range cases {
		got, _, err := interpolate(tc.in, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil || got != tc.want {
			t.Errorf("interpolate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// An unset variable is blank, with Compose's warning and the line.
	f := parse(t, "services:\n  web:\n    labels:\n      baton.host: ${HOST}\n", nil)
	if f.Services[0].Labels["baton.host"] != "" || len(f.Warnings) != 1 || !strings.HasPrefix(f.Warnings[0], "compose.yaml:4: variable HOST is not set") {
		t.Errorf("labels %v warnings %v", f.Services[0].Labels, f.Warnings)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		src    string
		line   int
		reason string
	}{
		// yaml.v3 names the line where the construct it could not finish starts.
		{"services:\n  web:\n    image: shop\n    labels: [a=b\n  db:\n    image: x\n", 3, "did not find expected ',' or ']'"},
		{"services:\n  web:\n    labels:\n      baton.host: a.test\n      baton.host: b.test\n", 5, "baton.host is written twice in one mapping (also at line 4)"},
		{"services:\n  web:\n    image: a\n  web:\n    image: b\n", 4, "web is written twice"},
		{"services:\n  web:\n    labels:\n      - baton.host=a.test\n      - baton.host=b.test\n", 5, "label baton.host is set twice"},
		{"services:\n  web:\n    labels:\n      baton.host: ${HOST:?set HOST}\n", 4, "required variable HOST is missing a value: set HOST"},
		{"services:\n  web:\n    labels:\n      - a=$1\n", 4, "invalid interpolation"},
		{"services:\n  web:\n    expose: [\"http\"]\n", 3, `port "http"`},
		{"services:\n  web:\n    extends:\n      file: common.yaml\n", 3, "extends: is not read by baton check"},
		{"services:\n  web:\n    image: shop\n    label_file: ./app.labels\n", 4, "label_file: is not read"},
		{"include:\n  - other.yaml\nservices: {}\n", 1, "include: is not read"},
		{"web:\n  image: nginx\n", 1, "no services: key"},
		{"", 0, "empty"},
	}
	for _, tc := range cases {
		_, err := Parse("compose.yaml", []byte(tc.src), func(string) (string, bool) { return "", false })
		var fe *FileError
		if !errors.As(err, &fe) || fe.File != "compose.yaml" || fe.Line != tc.line || !strings.Contains(fe.Reason, tc.reason) {
			t.Errorf("%q: %v; want compose.yaml:%d saying %q", tc.src, err, tc.line, tc.reason)
		}
	}
}

func TestProjectNameAsCompose(t *testing.T) {
	named := &File{Name: "Shop"}
	cases := []struct {
		explicit string
		files    []*File
		dir      string
		want     string
	}{
		{"", nil, "/srv/My Stack.v2", "mystackv2"},
		{"", []*File{named}, "/srv/x", "shop"},
		{"prod_1", []*File{named}, "/srv/x", "prod_1"},
		{"", []*File{named, {Name: "shop-override"}}, "/srv/x", "shop-override"},
	}
	for _, tc := range cases {
		if got := ProjectName(tc.explicit, tc.files, tc.dir); got != tc.want {
			t.Errorf("ProjectName(%q, %v) = %q, want %q", tc.explicit, tc.dir, got, tc.want)
		}
	}
}

func TestOverrideFilesMergeLikeCompose(t *testing.T) {
	base := parse(t, "services:\n  web:\n    image: shop:1\n    expose: [\"8080\"]\n    labels:\n      baton.enable: \"true\"\n      baton.host: staging.example.com\n", nil)
	prod := parse(t, "services:\n  web:\n    image: shop:2\n    labels:\n      baton.host: shop.example.com\n  worker:\n    image: shop:2\n", nil)
	p := NewProject("shop", []string{"base.yaml", "prod.yaml"}, []*File{base, prod})
	if len(p.Services) != 2 {
		t.Fatalf("services %+v", p.Services)
	}
	web := p.Services[0]
	if web.Image != "shop:2" || web.Labels["baton.host"] != "shop.example.com" || web.Labels["baton.enable"] != "true" || strings.Join(web.Ports, ",") != "8080/tcp" {
		t.Errorf("merged web: %+v", web)
	}
}

func TestParseDotEnv(t *testing.T) {
	got := ParseDotEnv([]byte("# comment\nDOMAIN=shop.example.com\nexport EMAIL=\"ops@example.com\"\nQUOTED='a b'\nTRAIL=x # note\n\nBAD\n"))
	want := map[string]string{"DOMAIN": "shop.example.com", "EMAIL": "ops@example.com", "QUOTED": "a b", "TRAIL": "x"}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
