// The CPU state the instructions of issue 10 item 6 add (CR0, CR3, CR4, the monitor, the
// RDRAND sequence) is part of the plain-data state: a seek across checkpoints gives the state
// of a fresh run stopped there.
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_INTERVAL } from '../../../src/core/engine/simulation';
import type { SimState } from '../../../src/core/engine/machine';
import { STOP, run, snapshot } from '../helpers';

const LOOP = [
  'start:',
  'mov ecx, 3000',
  'loop:',
  'rdrand rax',
  'mov rbx, rcx',
  'shl rbx, 12',
  'mov cr3, rbx',
  'and rax, 15',
  'mov cr8, rax',
  'mov r8, rcx',
  'xor ecx, ecx',
  'monitor',
  'mov rcx, r8',
  'dec ecx',
  'jnz loop',
  ...STOP,
];

function state(st: SimState) {
  const c = st.cpu;
  return {
    ...snapshot(st),
    cr0: c.cr0,
    cr3: c.cr3,
    cr4: c.cr4,
    monitor: c.monitorArmed,
    rdrand: c.rdrandCount,
  };
}

describe('control registers, monitor and RDRAND across checkpoints', () => {
  it('stateAt(n) after seeks equals a fresh run stopped at n', () => {
    const s = run(LOOP);
    expect(s.totalSteps).toBeGreaterThan(2 * CHECKPOINT_INTERVAL);
    for (const n of [s.totalSteps, 5, CHECKPOINT_INTERVAL + 3, 2 * CHECKPOINT_INTERVAL - 1, 100]) {
      const fresh = run(LOOP, [], {}, { limits: { steps: n } });
      expect(state(s.sim.stateAt(n)), `step ${n}`).toEqual(state(fresh.sim.stateAt(n)));
    }
    const mid = s.sim.stateAt(CHECKPOINT_INTERVAL + 3).cpu;
    expect(mid.rdrandCount).toBeGreaterThan(0);
    expect(mid.cr3 % 4096).toBe(0);
  });
});
