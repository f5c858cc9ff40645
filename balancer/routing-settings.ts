import type { BalancerConfig } from './config.js';
import type { ResilienceSettings } from './router.js';
import { createStrategy, type StrategyOptions } from './strategies/index.js';
import type { Strategy } from './strategies/strategy.js';
import type { Upstream } from './upstream.js';

/** Strategy options from the balancer's configuration (flags, env, file). */
export function strategyOptions(c: BalancerConfig): StrategyOptions {
  return {
    hashKey: c.hashKey,
    hashBalanceFactor: c.hashBalanceFactor,
    hashVnodes: c.hashVnodes,
    hashSeed: c.hashSeed,
    // The ring follows registry weights, not slow-start ramps: ramping must not remap keys.
    hashWeightOf: (u) => (u as unknown as Upstream).spec.weight,
    choiceCount: c.lrChoiceCount,
    activeRequestBias: c.lrActiveRequestBias,
    dynamicWeights: {
      latencyHalfLifeMs: c.dwLatencyHalfLife,
      minWeightPercent: c.dwMinWeightPercent,
      blackoutMs: c.dwBlackout,
      failureWindowMs: c.dwFailureWindow,
    },
    sticky:
      c.stickyCookie && c.stickySecret
        ? { cookieName: c.stickyCookie, secret: c.stickySecret, maxAgeSeconds: c.stickyMaxAge ? Math.round(c.stickyMaxAge / 1000) : undefined }
        : undefined,
  };
}

/** Option names PUT /strategy accepts in its `options` object, with the config's values as defaults. */
const LIVE_OPTIONS = ['hashKey', 'hashBalanceFactor', 'hashVnodes', 'hashSeed', 'choiceCount', 'activeRequestBias'] as const;

/**
 * Builds a strategy for a live switch: the configured options, overridden by
 * those the request names. Unknown option names are an error naming them.
 */
export function strategyFactory(c: BalancerConfig): (name: string, options: unknown) => Strategy<Upstream> {
  return liveStrategyFactory(strategyOptions(c));
}

/** The same over given base options (the admin API's default when no config is at hand). */
export function liveStrategyFactory(base: StrategyOptions): (name: string, options: unknown) => Strategy<Upstream> {
  return (name, options) => {
    const extra: Record<string, unknown> = {};
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object' || Array.isArray(options)) throw new Error('options must be an object');
      for (const [k, v] of Object.entries(options)) {
        if (!(LIVE_OPTIONS as readonly string[]).includes(k)) throw new Error(`unknown strategy option '${k}'; known: ${LIVE_OPTIONS.join(', ')}`);
        extra[k] = v;
      }
    }
    return createStrategy<Upstream>(name, { ...base, ...extra } as StrategyOptions);
  };
}

export function resilienceSettings(c: BalancerConfig): ResilienceSettings {
  return {
    outlier: {
      consecutiveFailures: c.outlierConsecutiveFailures,
      baseEjectionMs: c.outlierBaseEjection,
      maxEjectionMs: c.outlierMaxEjection,
      maxEjectionPercent: c.outlierMaxEjectionPercent,
    },
    breaker: c.breaker
      ? {
          failureRatio: c.breakerFailureRatio,
          minRequests: c.breakerMinRequests,
          windowMs: c.breakerWindow,
          openMs: c.breakerOpen,
          halfOpenRequests: c.breakerHalfOpenRequests,
        }
      : undefined,
    retryBudget: { ratio: c.retryBudgetRatio, minPerSecond: c.retryBudgetMin, windowMs: c.retryBudgetWindow },
    slowStart: { windowMs: c.slowStart, aggression: c.slowStartAggression, minWeightPercent: c.slowStartMinWeightPercent },
    panicThresholdPercent: c.panicThreshold,
  };
}
