// "Why, with causes" for a VM-entry failure (SDM "Checks on Guest Non-Register State",
// "VM-Entry Failures During or After Loading Guest State"): the fields the failed check read
// are the exit's deciding reads, on the processor and in KVM's nested_vmx_run.
import { describe, expect, it } from 'vitest';
import { type CauseInput, causesOf } from '../../../src/core/causes/causes';
import type { LabSession } from '../../../src/core/engine/session';
import { EventKind } from '../../../src/core/engine/view';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { F } from '../../../src/core/vmx/vmcs';
import { open, scenarioDoc } from '../helpers';
import { exits, vmxProgram } from '../vmx-hw/vmx-helpers';

const SETUP = [
  'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED',
  'vmwrite GUEST_INTERRUPTIBILITY_INFO, 1', // blocking by STI with RFLAGS.IF = 0
];
const doc = () => scenarioDoc(vmxProgram({ setup: SETUP }), [], { limits: { steps: 20000 } });

function read(inputs: CauseInput[], enc: number): CauseInput | undefined {
  return inputs.find((i) => i.what.k === 'vmcs' && i.what.enc === enc);
}

describe('blocking by STI needs RFLAGS.IF = 1', () => {
  it('the failure exit (0x80000021) notes GUEST_INTERRUPTIBILITY_INFO and GUEST_RFLAGS as deciding', () => {
    const s = open(doc());
    const x = exits(s)[0];
    expect(x.reason).toBe(0x80000021);
    const v = causesOf(s, x.step);
    const deciding = v.inputs.filter((i) => i.decides);
    expect(deciding.map((i) => i.label)).toEqual([
      'GUEST_INTERRUPTIBILITY_INFO of vmcs01',
      'GUEST_RFLAGS of vmcs01',
    ]);
    expect(read(deciding, F.GUEST_INTERRUPTIBILITY_INFO)).toMatchObject({ value: '0x1', by: 'processor' });
    expect(read(deciding, F.GUEST_RFLAGS)).toMatchObject({ value: '0x2' });
    // Each links to the host's VMWRITE that set it.
    expect(read(deciding, F.GUEST_INTERRUPTIBILITY_INFO)!.setBy!.actor).toMatch(
      /vmwrite GUEST_INTERRUPTIBILITY_INFO/,
    );
  });

  it('under KVM: nested_vmx_entry_failure notes the same fields of vmcs12', () => {
    const s: LabSession = open(nestUnderKvm(doc()));
    const t = s.sim.trace;
    let n = -1;
    for (let i = 0; i < t.length && n < 0; i++)
      if (t.kind[i] === EventKind.DECISION && t.d0[i] === Fn.nested_vmx_entry_failure) n = i + 1;
    expect(n).toBeGreaterThan(0);
    const v = causesOf(s, n);
    expect(read(v.inputs, F.GUEST_INTERRUPTIBILITY_INFO)).toMatchObject({
      label: 'GUEST_INTERRUPTIBILITY_INFO of vmcs12',
      value: '0x1',
      decides: true,
      by: 'KVM L0',
    });
    expect(read(v.inputs, F.GUEST_RFLAGS)).toMatchObject({ value: '0x2', decides: true });
  });
});
