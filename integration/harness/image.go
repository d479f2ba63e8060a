package harness

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
)

var (
	appOnce sync.Once
	appBin  []byte
	appErr  error

	imagesMu sync.Mutex
	images   = map[string]string{}
)

// ModuleRoot is the repository root (the directory holding go.mod).
func ModuleRoot(t T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// goBuild compiles a package of this module into dir, static.
// goBuild builds pkg; tags are build tags (batontest: the crash matrix's
// failpoint in cutover, which a release build does not have).
func goBuild(t T, pkg, out string, static bool, tags ...string) error {
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	if !static && os.Getenv("BATON_RACE") != "" {
		// BATON_RACE=1 builds baton itself with the race detector, so the
		// integration tests check the running binary too.
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = os.Environ()
	if static {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// BuildTestApp compiles ./integration/testapp, static (CGO_ENABLED=0), once
// per process, and returns the binary.
func BuildTestApp(t T) []byte {
	t.Helper()
	appOnce.Do(func() {
		dir, err := os.MkdirTemp("", "baton-testapp-")
		if err != nil {
			appErr = err
			return
		}
		defer os.RemoveAll(dir)
		if appErr = goBuild(t, "./integration/testapp", filepath.Join(dir, "app"), true); appErr == nil {
			appBin, appErr = os.ReadFile(filepath.Join(dir, "app"))
		}
	})
	if appErr != nil {
		t.Fatal(appErr)
	}
	return appBin
}

// Image packages the test app FROM scratch as a uniquely named image with the
// given labels (e.g. org.opencontainers.image.revision) and returns its
// reference. Nothing is pulled. Images are shared by the tests of the process
// and removed by RemoveImages (TestMain calls it), on interrupt, or by a
// later run's Sweep.
//
// env lines ("KEY=value") are baked into the image with ENV, the way a real
// build bakes its release SHA in.
func Image(t T, tag string, labels map[string]string, env ...string) string {
	t.Helper()
	return ImageExposing(t, tag, 8080, labels, env...)
}

// ImageExposing is Image with port as the one port the image EXPOSEs (the
// test app listens on $PORT, 8080 by default), as a real image declares
// the port its app listens on.
func ImageExposing(t T, tag string, port int, labels map[string]string, env ...string) string {
	t.Helper()
	c := Docker(t)
	bin := BuildTestApp(t)
	ref := fmt.Sprintf("baton-test-%s/app:%s", runID, tag)
	imagesMu.Lock()
	defer imagesMu.Unlock()
	if _, ok := images[ref]; ok {
		return ref
	}
	var df strings.Builder
	fmt.Fprintf(&df, "FROM scratch\nCOPY app /app\nEXPOSE %d\nENTRYPOINT [\"/app\"]\n", port)
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&df, "ENV %s=%q\n", k, v)
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&df, "LABEL %q=%q\n", k, labels[k])
	}
	ctxTar, err := tarOf(map[string][]byte{"Dockerfile": []byte(df.String()), "app": bin})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := c.ImageBuild(ctx, ctxTar, build.ImageBuildOptions{Tags: []string{ref}, Remove: true, ForceRemove: true,
		Labels: map[string]string{RunLabel: runID}, Version: build.BuilderV1})
	if err != nil {
		t.Fatalf("docker build %s: %v", ref, err)
	}
	defer resp.Body.Close()
	if err := buildError(resp.Body); err != nil {
		t.Fatalf("docker build %s: %v", ref, err)
	}
	images[ref] = ref
	created.add(created.images, ref)
	return ref
}

// RemoveImages deletes the images and the baton binary this process built;
// TestMain calls it once the tests are over.
func RemoveImages() {
	removeBatonBinary()
	if cli == nil {
		return
	}
	imagesMu.Lock()
	defer imagesMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ref := range images {
		_, _ = cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
		created.remove(created.images, ref)
		delete(images, ref)
	}
}

func buildError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != "" {
			return fmt.Errorf("%s", msg.Error)
		}
	}
}

func tarOf(files map[string][]byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		mode := int64(0o644)
		if name == "app" || name == "baton" {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

// Tag points dst at src's image (as `docker compose build` moves a tag to a
// new build); dst is removed with the other images.
func Tag(t T, src, dst string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Docker(t).ImageTag(ctx, src, dst); err != nil {
		t.Fatalf("docker tag %s %s: %v", src, dst, err)
	}
	imagesMu.Lock()
	images[dst] = dst
	imagesMu.Unlock()
	created.add(created.images, dst)
}

var (
	batonImageOnce sync.Once
	batonImageRef  string
	batonImageErr  error
)

// BatonImage builds baton's own image the way `make image` does: a static
// binary and configs/Dockerfile, FROM scratch. Removed with the other images.
func BatonImage(t T) string {
	t.Helper()
	c := Docker(t)
	batonImageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "baton-image-")
		if err != nil {
			batonImageErr = err
			return
		}
		defer os.RemoveAll(dir)
		if batonImageErr = goBuild(t, "./cmd/baton", filepath.Join(dir, "baton"), true); batonImageErr != nil {
			return
		}
		bin, err := os.ReadFile(filepath.Join(dir, "baton"))
		if err != nil {
			batonImageErr = err
			return
		}
		dockerfile, err := os.ReadFile(filepath.Join(ModuleRoot(t), "configs", "Dockerfile"))
		if err != nil {
			batonImageErr = err
			return
		}
		ctxTar, err := tarOf(map[string][]byte{"Dockerfile": dockerfile, "baton": bin})
		if err != nil {
			batonImageErr = err
			return
		}
		ref := fmt.Sprintf("baton-test-%s/baton:latest", runID)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		resp, err := c.ImageBuild(ctx, ctxTar, build.ImageBuildOptions{Tags: []string{ref}, Remove: true, ForceRemove: true,
			Labels: map[string]string{RunLabel: runID}, Version: build.BuilderV1})
		if err != nil {
			batonImageErr = fmt.Errorf("docker build %s: %w", ref, err)
			return
		}
		defer resp.Body.Close()
		if err := buildError(resp.Body); err != nil {
			batonImageErr = fmt.Errorf("docker build %s: %w", ref, err)
			return
		}
		imagesMu.Lock()
		images[ref] = ref
		imagesMu.Unlock()
		created.add(created.images, ref)
		batonImageRef = ref
	})
	if batonImageErr != nil {
		t.Fatal(batonImageErr)
	}
	return batonImageRef
}
