import { ConfigError } from '../common/config/options.js';

/**
 * Where the Docker Engine API is: a unix socket or a TCP address (plain
 * HTTP, as a filtering socket proxy serves it). Read from `--docker-host`
 * or DOCKER_HOST, the variable the docker CLI reads.
 */
export type DockerEndpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

const TCP = /^(?:tcp|http):\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})\/?$/;

/** Parses `unix:///path`, `/path`, `tcp://host:port` or `http://host:port`; undefined when it is none of them. */
export function parseDockerHost(value: string): DockerEndpoint | undefined {
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    return path.startsWith('/') ? { socketPath: path } : undefined;
  }
  if (value.startsWith('/')) return { socketPath: value };
  const m = TCP.exec(value);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function describeEndpoint(e: DockerEndpoint): string {
  return 'socketPath' in e ? `unix://${e.socketPath}` : `tcp://${e.host}:${e.port}`;
}

export const DOCKER_HOST_EXPECTED = 'unix:///path/to/docker.sock, tcp://host:port (plain HTTP) or an absolute socket path';

/** The endpoint named by `--docker-host` (or DOCKER_HOST); a ConfigError naming the option when it names none. */
export function dockerEndpointOption(value: string): DockerEndpoint {
  const e = parseDockerHost(value);
  if (!e) throw new ConfigError(`invalid value '${value}' for --docker-host (or DOCKER_HOST): expected ${DOCKER_HOST_EXPECTED}`);
  return e;
}
