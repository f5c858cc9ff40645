import { Supervisor } from '../../common/lifecycle.js';
import { createLogger } from '../../common/logger.js';
import { describeEndpoint } from '../docker-endpoint.js';
import { DockerApiProxy } from './api-proxy.js';
import { apiProxyHelp, loadApiProxyConfig } from './config.js';
import { CONTROLLER_RULES, REPLICA_UPDATE_RULE } from './rules.js';

/** `switchyard docker-api-proxy`: the filtered Docker API the controller talks to. */
export async function runApiProxy(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const loaded = loadApiProxyConfig({ argv, env });
  if (loaded.help) {
    process.stdout.write(apiProxyHelp());
    return;
  }
  const config = loaded.config;
  const logger = createLogger('docker-api-proxy', config.logLevel);
  const rules = config.allowReplicaUpdates ? [...CONTROLLER_RULES, REPLICA_UPDATE_RULE] : CONTROLLER_RULES;
  const proxy = new DockerApiProxy({
    port: config.port,
    host: config.host,
    docker: config.docker,
    rules,
    maxConnections: config.maxConnections,
    logger,
  });
  const supervisor = new Supervisor(logger, 5000).add(proxy);
  supervisor.handleSignals((code) => {
    logger.flush();
    process.exit(code);
  });
  await supervisor.start();
  logger.info(
    {
      listen: `${config.host}:${proxy.address.port}`,
      docker: describeEndpoint(config.docker),
      allowed: rules.map((r) => `${r.methods.join('|')} ${r.path.source}`),
    },
    'docker api proxy started',
  );
}
