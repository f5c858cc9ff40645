import { ConsistentHash, CONSISTENT_HASH_DEFAULTS } from './consistent-hash.js';
import { DynamicWeighted } from './dynamic-weighted.js';
import { WeightFactors, type WeightFactorsOptions } from './weight-factors.js';
import { LeastRequest, LEAST_REQUEST_DEFAULTS } from './least-request.js';
import { RandomPick } from './random.js';
import { RoundRobin } from './round-robin.js';
import { StickySessions, type StickyOptions } from './sticky-sessions.js';
import type { Candidate, Strategy } from './strategy.js';
import { WeightedRoundRobin, type WeightOf } from './weighted-round-robin.js';

export type { Candidate, PickContext, Strategy } from './strategy.js';
export { ConsistentHash, CONSISTENT_HASH_DEFAULTS } from './consistent-hash.js';
export { DynamicWeighted } from './dynamic-weighted.js';
export { WeightFactors, WEIGHT_FACTORS_DEFAULTS, type DynamicWeightInfo, type WeightFactorsOptions } from './weight-factors.js';
export { LeastRequest, LEAST_REQUEST_DEFAULTS } from './least-request.js';
export { RandomPick } from './random.js';
export { RoundRobin } from './round-robin.js';
export { StickySessions, STICKY_DEFAULTS, type StickyOptions } from './sticky-sessions.js';
export { WeightedRoundRobin, type WeightOf } from './weighted-round-robin.js';
export { parseHashKey, type KeyExtractor } from './hash-key.js';

export const STRATEGY_NAMES = ['round-robin', 'random', 'weighted-round-robin', 'consistent-hash', 'least-request', 'dynamic-weighted'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export function isStrategyName(name: string): name is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(name);
}

/**
 * Options for createStrategy(). Each strategy reads the ones it knows and
 * ignores the rest, so one config object can serve a live strategy switch.
 * Defaults are in docs/strategies.md and the *_DEFAULTS constants.
 */
export interface StrategyOptions<C extends Candidate = Candidate> {
  /** Uniform [0, 1) source for random and least-request (tests inject a seeded one). */
  readonly random?: () => number;
  /** consistent-hash: `ip` | `path` | `header:NAME` | `cookie:NAME`. */
  readonly hashKey?: string;
  /** consistent-hash: bounded-load factor c (0 = off, else >= 1). */
  readonly hashBalanceFactor?: number;
  /** consistent-hash: ring points for a backend of the largest weight. */
  readonly hashVnodes?: number;
  /** consistent-hash: seed; all balancers sharing a registry must agree. */
  readonly hashSeed?: number;
  /**
   * consistent-hash: the weight the ring is built from (default `c.weight`).
   * Pass the registry weight when `weight` ramps for slow start.
   */
  readonly hashWeightOf?: WeightOf<C>;
  /** least-request: candidates sampled per pick (>= 2). */
  readonly choiceCount?: number;
  /** least-request: exponent on (inFlight + 1). */
  readonly activeRequestBias?: number;
  /** dynamic-weighted: a shared calculator, or options for a new one. */
  readonly dynamicWeights?: WeightFactors | Partial<WeightFactorsOptions>;
  /** Wraps the strategy in cookie-based sticky sessions. */
  readonly sticky?: StickyOptions;
}

/**
 * Builds a strategy by name; an unknown name is an error that names it, and
 * a bad option an error that names the option.
 */
export function createStrategy<C extends Candidate>(name: string, options: StrategyOptions<C> = {}): Strategy<C> {
  const base = createBase<C>(name, options);
  return options.sticky === undefined ? base : new StickySessions<C>(base, options.sticky);
}

function createBase<C extends Candidate>(name: string, o: StrategyOptions<C>): Strategy<C> {
  switch (name) {
    case 'round-robin':
      return new RoundRobin<C>();
    case 'random':
      return new RandomPick<C>(o.random);
    case 'weighted-round-robin':
      return new WeightedRoundRobin<C>();
    case 'consistent-hash':
      return new ConsistentHash<C>(
        {
          hashKey: o.hashKey ?? CONSISTENT_HASH_DEFAULTS.hashKey,
          balanceFactor: o.hashBalanceFactor ?? CONSISTENT_HASH_DEFAULTS.balanceFactor,
          vnodes: o.hashVnodes ?? CONSISTENT_HASH_DEFAULTS.vnodes,
          seed: o.hashSeed ?? CONSISTENT_HASH_DEFAULTS.seed,
        },
        o.hashWeightOf,
      );
    case 'least-request':
      return new LeastRequest<C>({
        choiceCount: o.choiceCount ?? LEAST_REQUEST_DEFAULTS.choiceCount,
        activeRequestBias: o.activeRequestBias ?? LEAST_REQUEST_DEFAULTS.activeRequestBias,
        random: o.random ?? Math.random,
      });
    case 'dynamic-weighted':
      return new DynamicWeighted<C>(o.dynamicWeights instanceof WeightFactors ? o.dynamicWeights : new WeightFactors(o.dynamicWeights));
    default:
      throw new Error(`unknown strategy '${name}'; known strategies: ${STRATEGY_NAMES.join(', ')}`);
  }
}
