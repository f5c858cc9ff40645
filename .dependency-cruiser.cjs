/**
 * Layers, checked in CI (`make lint`): nothing imports upward, no import
 * circles, engines reached only through their factory. Lowest first:
 *
 *   common/                       shared by every program
 *   balancer parts                strategies/ resilience/ health/ stats/ (pure parts)
 *   balancer model                upstream, upstream-set, router, listen-shards, port-holders, self-addresses
 *   balancer/forward/             the request path and its engines (exchange/ the engine-neutral core, http1/ the llhttp listener; raw/ and undici/ the engines)
 *   balancer composition          balancer.ts, request-gate, http-listener, decision-explainer, admin/, cluster/, lifecycle-parts, balancer-settings, routing-settings, config, main
 *   backend/, controller/         programs beside the balancer
 *   cli/                          entry points and tools
 *
 * balancer-view.ts holds only the interface the admin API and /stats read:
 * any layer of the balancer may name it.
 */
const PARTS = '^balancer/(strategies|resilience|health|stats)/';
const MODEL = '^balancer/(upstream|upstream-set|router|listen-shards|port-holders|self-addresses)[.]ts$';
const FORWARD = '^balancer/forward/';
const COMPOSITION =
  '^balancer/(balancer|lifecycle-parts|balancer-settings|config|main|routing-settings|request-gate|http-listener|decision-explainer)[.]ts$|^balancer/(admin|cluster)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'Import circles hide which module owns what.', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'common-is-shared',
      comment: 'common/ is below every program.',
      severity: 'error',
      from: { path: '^common/' },
      to: { path: '^(balancer|backend|controller|cli)/' },
    },
    {
      name: 'programs-stand-alone',
      comment: 'A program imports common/ and itself, never another program or the CLI.',
      severity: 'error',
      from: { path: '^(balancer|backend|controller)/' },
      to: { path: '^(balancer|backend|controller|cli)/', pathNot: ['^$1/'] },
    },
    {
      name: 'parts-below-model',
      comment: 'Strategies, resilience, health and stats know no upstream set, engine or composition.',
      severity: 'error',
      from: { path: PARTS },
      to: { path: [MODEL, FORWARD, COMPOSITION] },
    },
    {
      name: 'model-below-forward',
      comment: 'The upstream model knows no engine and no composition.',
      severity: 'error',
      from: { path: MODEL },
      to: { path: [FORWARD, COMPOSITION] },
    },
    {
      name: 'forward-below-composition',
      comment: 'The request path and engines know the balancer only through their host interfaces.',
      severity: 'error',
      from: { path: FORWARD },
      to: { path: [COMPOSITION, '^balancer/(upstream-set|router)[.]ts$'] },
    },
    {
      name: 'engines-through-their-factory',
      comment: 'Outside balancer/forward/, engines are reached through forward/engines.ts and the Forwarder interface.',
      severity: 'error',
      from: { pathNot: FORWARD },
      to: { path: '^balancer/forward/(raw|undici)/' },
    },
    {
      name: 'engine-neutral-request-path',
      comment: 'The engine-neutral files of balancer/forward/ (the core, the listeners) do not depend on one engine (engines.ts, the factory, excepted).',
      severity: 'error',
      from: { path: '^balancer/forward/((exchange|http1)/)?[^/]+[.]ts$', pathNot: '^balancer/forward/engines[.]ts$' },
      to: { path: '^balancer/forward/(raw|undici)/' },
    },
    {
      name: 'engines-apart',
      comment: 'An engine is its upstream transport: one engine never imports another.',
      severity: 'error',
      from: { path: '^balancer/forward/(raw|undici)/' },
      to: { path: '^balancer/forward/(raw|undici)/', pathNot: '^balancer/forward/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
