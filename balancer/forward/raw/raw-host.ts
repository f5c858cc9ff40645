import type { PickContext } from '../../strategies/strategy.js';
import type { ForwardHost } from '../forwarder.js';

/** What the raw engine needs from the balancer: the ForwardHost seam and the explain check without an IncomingMessage. */
export interface RawHost extends ForwardHost {
  /** True when this request should carry X-LB-Decision (by its headers, without an IncomingMessage). */
  wantsExplanationFor(ctx: PickContext): boolean;
}
