import { loadOptions, option, renderHelp, type OptionSources, type OptionValues } from '../../common/config/options.js';
import { boolean, integer, oneOf, port, text } from '../../common/config/values.js';
import { LOG_LEVELS } from '../../common/logger.js';
import { DOCKER_HOST_EXPECTED, dockerEndpointOption, type DockerEndpoint } from '../docker-endpoint.js';

export const API_PROXY_OPTIONS = {
  port: option({
    type: port(),
    flag: 'port',
    env: ['SWITCHYARD_API_PROXY_PORT'],
    default: 2375,
    help: 'Port the filtered Docker API is served on.',
    group: 'Listener',
  }),
  host: option({
    type: text({ min: 1 }),
    flag: 'host',
    env: ['SWITCHYARD_API_PROXY_HOST'],
    default: '127.0.0.1',
    help: 'Address it binds to (the Compose stack sets 0.0.0.0 on a network only the controller joins).',
    group: 'Listener',
  }),
  maxConnections: option({
    type: integer(1, 10_000),
    flag: 'max-connections',
    env: ['SWITCHYARD_API_PROXY_MAX_CONNECTIONS'],
    default: 32,
    help: 'Most client connections at once; more are refused.',
    group: 'Listener',
  }),
  dockerHost: option({
    type: text({ min: 1, max: 512, expected: DOCKER_HOST_EXPECTED }),
    flag: 'docker-host',
    env: ['DOCKER_HOST'],
    default: 'unix:///var/run/docker.sock',
    help: 'The Docker Engine API behind the proxy (the socket this program alone mounts).',
    group: 'Docker',
  }),
  allowReplicaUpdates: option({
    type: boolean(),
    flag: 'allow-replica-updates',
    env: ['SWITCHYARD_API_PROXY_ALLOW_REPLICA_UPDATES'],
    default: false,
    help: "Also admit POST /services/<id>/update when the new spec differs from the service's current one in the replica count alone (the autoscaler's write). A service update can change mounts, capabilities and the image, so any other change is refused.",
    group: 'Docker',
  }),
  logLevel: option({
    type: oneOf(LOG_LEVELS),
    flag: 'log-level',
    env: ['SWITCHYARD_LOG_LEVEL', 'LOG_LEVEL'],
    default: 'info',
    help: 'Log level.',
    group: 'Observability',
  }),
} as const;

export interface ApiProxyConfig extends OptionValues<typeof API_PROXY_OPTIONS> {
  readonly docker: DockerEndpoint;
}

export function apiProxyHelp(): string {
  return renderHelp(API_PROXY_OPTIONS, {
    usage: 'switchyard docker-api-proxy [options]',
    summary:
      'Serve the Docker Engine API filtered to what the controller needs (list and inspect containers, follow events, list Swarm services and tasks, ping; with --allow-replica-updates, replica-count changes); every other method and path gets 403 and never reaches the engine. The only program of the stack that mounts the Docker socket.',
    footer: 'Example: switchyard docker-api-proxy --host 0.0.0.0 --docker-host unix:///var/run/docker.sock',
  });
}

export function loadApiProxyConfig(sources: OptionSources): { readonly help: true } | { readonly help: false; readonly config: ApiProxyConfig } {
  const { values, help } = loadOptions(API_PROXY_OPTIONS, sources);
  if (help) return { help };
  const docker = dockerEndpointOption(values.dockerHost);
  return { help, config: Object.freeze({ ...values, docker }) };
}
