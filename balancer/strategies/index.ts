import { RandomPick } from './random.js';
import { RoundRobin } from './round-robin.js';
import type { Candidate, Strategy } from './strategy.js';

export type { Candidate, PickContext, Strategy } from './strategy.js';

export const STRATEGY_NAMES = ['round-robin', 'random'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export function isStrategyName(name: string): name is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(name);
}

/** Builds a strategy by name; an unknown name is an error that names it. */
export function createStrategy<C extends Candidate>(name: string): Strategy<C> {
  switch (name) {
    case 'round-robin':
      return new RoundRobin<C>();
    case 'random':
      return new RandomPick<C>();
    default:
      throw new Error(`unknown strategy '${name}'; known strategies: ${STRATEGY_NAMES.join(', ')}`);
  }
}
