package upstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// Errors the deploy engine reports; cutover wraps them with the service name.
var (
	ErrImageMissing  = errors.New("image not present locally (baton never pulls: pull or build it on this host first)")
	ErrFixedHostPort = errors.New("the container publishes a fixed host port; a second container cannot bind it: drop the ports: mapping (baton reaches containers over the Docker network)")
)

// Snapshot returns the container's full inspect document: env, labels,
// command, mounts, networks, restart policy, resources, stop signal, log config.
func (d *Docker) Snapshot(ctx context.Context, id string) (json.RawMessage, error) {
	_, raw, err := d.cli.ContainerInspectWithRaw(ctx, id, false)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", id, err)
	}
	return raw, nil
}

// ImageLabels returns a local image's labels, or ErrImageMissing.
func (d *Docker) ImageLabels(ctx context.Context, image string) (map[string]string, error) {
	img, err := d.cli.ImageInspect(ctx, image)
	if err != nil {
		if client.IsErrNotFound(err) {
			return nil, ErrImageMissing
		}
		return nil, fmt.Errorf("inspect image %s: %w", image, err)
	}
	if img.Config == nil {
		return map[string]string{}, nil
	}
	return img.Config.Labels, nil
}

// Remove force-removes a container and its anonymous volumes.
func (d *Docker) Remove(ctx context.Context, id string) error {
	err := d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return nil
}

// Create clones a snapshot with another image, starts it and returns it as an
// instance with its address. Settings the old image supplied (its env, labels,
// command, entrypoint...) are dropped so the new image's own apply; settings
// the user gave the container are kept.
func (d *Docker) Create(ctx context.Context, snapshot json.RawMessage, image string, labels map[string]string) (Instance, error) {
	var old container.InspectResponse
	if err := json.Unmarshal(snapshot, &old); err != nil || old.Config == nil || old.HostConfig == nil {
		return Instance{}, fmt.Errorf("container snapshot unreadable: %v", err)
	}
	if fixedHostPort(old.HostConfig) {
		return Instance{}, ErrFixedHostPort
	}
	oldImg, _ := d.cli.ImageInspect(ctx, old.Image)
	var oldImgCfg *container.Config
	if oldImg.Config != nil {
		oldImgCfg = &container.Config{Env: oldImg.Config.Env, Cmd: oldImg.Config.Cmd, Entrypoint: oldImg.Config.Entrypoint,
			WorkingDir: oldImg.Config.WorkingDir, User: oldImg.Config.User, Labels: oldImg.Config.Labels, StopSignal: oldImg.Config.StopSignal}
	}
	cfg := cloneConfig(old, oldImgCfg, image, labels)
	hc := *old.HostConfig
	primary, endpoints := networksOf(old)
	hc.NetworkMode = container.NetworkMode(primary)
	var netCfg *network.NetworkingConfig
	if primary != "" {
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{primary: endpoints[primary]}}
	}
	name := cloneName(old.Name)
	created, err := d.cli.ContainerCreate(ctx, cfg, &hc, netCfg, nil, name)
	if err != nil {
		return Instance{}, fmt.Errorf("create %s from %s: %w", name, image, err)
	}
	in := Instance{ID: created.ID, Name: name}
	for netName, ep := range endpoints {
		if netName == primary {
			continue
		}
		if err := d.cli.NetworkConnect(ctx, netName, created.ID, ep); err != nil {
			return in, fmt.Errorf("connect %s to network %s: %w", name, netName, err)
		}
	}
	if err := d.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return in, fmt.Errorf("start %s: %w", name, err)
	}
	got, err := d.inspect(ctx, created.ID)
	if err != nil {
		return in, fmt.Errorf("inspect %s: %w", name, err)
	}
	var le *LabelError
	switch {
	case got == nil:
		// Already exited or restarting: the gate sees it and names the cause
		// (exit or crash loop), which says more than "stopped".
		return in, nil
	case got.Err != nil && errors.As(got.Err, &le):
		return *got, got.Err // the new image's labels are wrong
	case got.Err != nil:
		got.Err = nil // no address yet (restarting): the gate decides
	}
	return *got, nil
}

func fixedHostPort(hc *container.HostConfig) bool {
	for _, bindings := range hc.PortBindings {
		for _, b := range bindings {
			if b.HostPort != "" && b.HostPort != "0" {
				return true
			}
		}
	}
	return false
}

// cloneConfig copies the old container's config for image. What equals the old
// image's default is left unset so the new image's default applies.
func cloneConfig(old container.InspectResponse, oldImage *container.Config, image string, labels map[string]string) *container.Config {
	cfg := *old.Config
	cfg.Image = image
	if len(old.ID) >= 12 && cfg.Hostname == old.ID[:12] {
		cfg.Hostname = ""
	}
	cfg.Labels = map[string]string{}
	for k, v := range old.Config.Labels {
		if oldImage != nil && oldImage.Labels[k] == v {
			continue
		}
		if k == "baton.version" {
			continue // the fingerprint comes from the new image, or --expect
		}
		cfg.Labels[k] = v
	}
	for k, v := range labels {
		cfg.Labels[k] = v
	}
	if oldImage != nil {
		cfg.Env = slices.DeleteFunc(slices.Clone(cfg.Env), func(e string) bool { return slices.Contains(oldImage.Env, e) })
		if slices.Equal(cfg.Cmd, oldImage.Cmd) {
			cfg.Cmd = nil
		}
		if slices.Equal(cfg.Entrypoint, oldImage.Entrypoint) {
			cfg.Entrypoint = nil
		}
		if cfg.WorkingDir == oldImage.WorkingDir {
			cfg.WorkingDir = ""
		}
		if cfg.User == oldImage.User {
			cfg.User = ""
		}
		if cfg.StopSignal == oldImage.StopSignal {
			cfg.StopSignal = ""
		}
	}
	cfg.ExposedPorts = nil // the new image declares its own; baton.port still wins
	return &cfg
}

// networksOf returns the old container's networks with their aliases (minus
// the container's own short id, which Docker adds per container).
func networksOf(old container.InspectResponse) (primary string, eps map[string]*network.EndpointSettings) {
	eps = map[string]*network.EndpointSettings{}
	if old.NetworkSettings == nil {
		return "", eps
	}
	for name, ep := range old.NetworkSettings.Networks {
		var aliases []string
		if ep != nil {
			for _, a := range ep.Aliases {
				if len(old.ID) >= 12 && a == old.ID[:12] {
					continue
				}
				aliases = append(aliases, a)
			}
		}
		eps[name] = &network.EndpointSettings{Aliases: aliases}
	}
	primary = string(old.HostConfig.NetworkMode)
	if _, ok := eps[primary]; !ok {
		primary = ""
		for name := range eps {
			if primary == "" || name < primary {
				primary = name
			}
		}
	}
	return primary, eps
}

var cloneSuffix = regexp.MustCompile(`-b[0-9a-f]{6}$`)

// cloneName is the old name with a fresh "-b<hex>" suffix (replacing the one a
// previous deploy added, so names do not grow).
func cloneName(old string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	base := cloneSuffix.ReplaceAllString(strings.TrimPrefix(old, "/"), "")
	return base + "-b" + hex.EncodeToString(b[:])
}
