package check

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// Project is the Compose project some files describe, merged in order as
// `docker compose -f a.yaml -f b.yaml` merges them.
type Project struct {
	Name     string
	Files    []string
	Services []Service         // in the order the files first name them
	networks map[string]string // Compose network key -> Docker network name
	Warnings []string
}

// NewProject merges files (named names) in order: a later file's service
// of the same name adds labels (a label it sets again wins), ports and
// networks, and replaces image, container_name and network_mode, as
// Compose's override files do. name is the project name (ProjectName).
func NewProject(name string, names []string, files []*File) *Project {
	p := &Project{Name: name, Files: names, networks: map[string]string{}}
	byName := map[string]int{}
	external := map[string]bool{}
	for _, f := range files {
		p.Warnings = append(p.Warnings, f.Warnings...)
		for k, v := range f.External {
			external[k] = v
		}
		for k, v := range f.Networks {
			p.networks[k] = v
		}
		for _, s := range f.Services {
			i, ok := byName[s.Name]
			if !ok {
				byName[s.Name] = len(p.Services)
				p.Services = append(p.Services, s)
				continue
			}
			p.Services[i] = override(p.Services[i], s)
		}
	}
	for _, f := range files {
		for k := range f.External {
			if _, named := p.networks[k]; !named && external[k] {
				p.networks[k] = k // an external network is named as in the file
			}
		}
	}
	return p
}

func override(base, o Service) Service {
	for k, v := range o.Labels {
		base.Labels[k] = v
	}
	for k, v := range o.DeployLabels {
		base.DeployLabels[k] = v
	}
	for k, v := range o.Where {
		base.Where[k] = v
	}
	base.Ports = append(base.Ports, o.Ports...)
	for _, n := range o.Networks {
		if !contains(base.Networks, n) {
			base.Networks = append(base.Networks, n)
		}
	}
	if o.Image != "" {
		base.Image = o.Image
	}
	if o.ContainerName != "" {
		base.ContainerName = o.ContainerName
	}
	if o.NetworkMode != "" {
		base.NetworkMode = o.NetworkMode
	}
	return base
}

var notInProjectName = regexp.MustCompile(`[^-_a-z0-9]`)

// ProjectName is the project's name as Compose picks it: explicit (the
// -p flag, else $COMPOSE_PROJECT_NAME) if set, else the last file's name:,
// else the project directory's base name; lower case, with characters
// other than a-z, 0-9, - and _ dropped (Compose's normalisation).
func ProjectName(explicit string, files []*File, dir string) string {
	name := explicit
	for i := len(files) - 1; name == "" && i >= 0; i-- {
		name = files[i].Name
	}
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	return strings.TrimLeft(notInProjectName.ReplaceAllString(strings.ToLower(name), ""), "-_")
}

// ContainerName is the name Compose gives the service's first container.
func (p *Project) ContainerName(s Service) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return p.Name + "-" + s.Name + "-1" // Compose v2; docker-compose 1.29 writes _ for -
}

// placeholderIP stands for the address Docker will give the container
// (RFC 5737 documentation range): nothing is ever dialled.
const placeholderIP = "192.0.2.1"

// Container is the container Compose would create for s, as the Docker
// provider will inspect it once it runs: its labels with Compose's own
// (project, service), the ports Compose exposes, the Docker networks it
// joins. What only the image says (EXPOSE, labels) is not known here.
func (p *Project) Container(s Service) container.InspectResponse {
	labels := map[string]string{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	labels["com.docker.compose.project"] = p.Name
	labels["com.docker.compose.service"] = s.Name
	exposed := nat.PortSet{}
	for _, port := range s.Ports {
		exposed[nat.Port(port)] = struct{}{}
	}
	nets := map[string]*network.EndpointSettings{}
	switch mode := s.NetworkMode; {
	case mode == "host" || mode == "none":
		nets[mode] = &network.EndpointSettings{} // Docker gives no address there
	case strings.HasPrefix(mode, "service:") || strings.HasPrefix(mode, "container:"):
		// Another container's network stack: Docker lists no network.
	case mode != "":
		nets[mode] = &network.EndpointSettings{IPAddress: placeholderIP}
	default:
		keys := s.Networks
		if len(keys) == 0 {
			keys = []string{"default"}
		}
		for _, k := range keys {
			nets[p.dockerNetwork(k)] = &network.EndpointSettings{IPAddress: placeholderIP}
		}
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: "compose:" + s.Name, Name: "/" + p.ContainerName(s), State: &container.State{Running: true}},
		Config:            &container.Config{Image: s.Image, Labels: labels, ExposedPorts: exposed},
		NetworkSettings:   &container.NetworkSettings{Networks: nets},
	}
}

// dockerNetwork is the Docker name of a Compose network: its name:, an
// external network's own name, else project_key.
func (p *Project) dockerNetwork(key string) string {
	if n, ok := p.networks[key]; ok && n != "" {
		return n
	}
	return p.Name + "_" + key
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
