/**
 * The scheduling steps property tests draw between application writes (see Cluster.step), shared
 * so every convergence property runs the same kinds of interleaving, concurrency included.
 */
import fc from 'fast-check';
import type { ScheduleOp } from './cluster.ts';

/** Whether a drawn op is a scheduling step (the rest are the test's own application writes). */
export function isScheduleOp(op: { kind: string }): op is ScheduleOp {
  return op.kind === 'ship' || op.kind === 'deliver' || op.kind === 'tick' || op.kind === 'together';
}

/**
 * Two invocations at once: a region's shipper beside an applier, or two appliers (maybe on the
 * same message: a redelivery while the first delivery is still applying). Regions by index, modulo.
 */
export function togetherArb(regionCount: number): fc.Arbitrary<ScheduleOp> {
  return fc.record({
    kind: fc.constant('together' as const),
    a: fc.oneof(
      fc.record({ kind: fc.constant('ship' as const), region: fc.nat(regionCount - 1), max: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(50) }),
    ),
    b: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(50) }),
  });
}
