import { describe, expect, it } from 'vitest';
import { label } from '../helpers';
import { runSvm, svmExits, vmcb, vmruns } from './svm-helpers';

describe('VMRUN and #VMEXIT', () => {
  it('runs the guest at L1 and exits on its intercepted VMMCALL with nRIP', () => {
    const s = runSvm({ host: ['        mov r8, 7'] });
    const e = svmExits(s);
    expect(vmruns(s)).toHaveLength(1);
    expect(vmruns(s)[0].guestRip).toBe(label(s, 'guest'));
    expect(e).toHaveLength(1);
    expect(e[0].code).toBe(0x81);
    expect(e[0].level).toBe(1);
    expect(e[0].rip).toBe(label(s, 'guest'));
    expect(vmcb(s, 'exit_code')).toBe(0x81);
    expect(vmcb(s, 'next_rip')).toBe(label(s, 'guest') + 3);
    expect(vmcb(s, 'rip')).toBe(label(s, 'guest'));
    expect(s.sim.stateAt(s.totalSteps).svm.gif).toBe(false);
  });
});
