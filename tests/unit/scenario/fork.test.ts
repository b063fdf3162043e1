// Forks: a scenario plus edits of the state at given steps; each target kind, the alternative
// future, seeking across the edit, and edits that cannot be read.
import { describe, expect, it } from 'vitest';
import { openFork } from '../../../src/core/engine/fork-session';
import { openSession, type LabSession } from '../../../src/core/engine/session';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { type ForkEdit, parseEdit } from '../../../src/core/scenario/fork';
import type { ParamValue } from '../../../src/core/scenario/schema';

function fork(name: string, params: Record<string, ParamValue>, edits: string[]): LabSession {
  const r = openFork(
    { doc: findBuiltin(name) },
    params,
    edits.map((e, i) => parseEdit(e, i)),
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.session;
}
function forkError(name: string, params: Record<string, ParamValue>, edits: ForkEdit[] | string[]) {
  const list = edits.map((e, i) => (typeof e === 'string' ? parseEdit(e, i) : e));
  const r = openFork({ doc: findBuiltin(name) }, params, list);
  if (r.ok) throw new Error('expected an error');
  return r.error;
}
function base(name: string, params: Record<string, ParamValue> = {}): LabSession {
  const r = openSession({ doc: findBuiltin(name) }, params);
  if (!r.ok) throw new Error(r.error.message);
  return r.session;
}
const exits = (s: LabSession) =>
  s
    .traceEvents()
    .filter((e) => e.kind === 'vmexit')
    .map((e) => [e.step, e.data.reason]);

describe('parseEdit', () => {
  it('reads STEP:TARGET=VALUE, with spaces in the target', () => {
    expect(parseEdit('30:GUEST_INTERRUPTIBILITY_INFO.NMI=0')).toEqual({
      step: 30,
      target: 'GUEST_INTERRUPTIBILITY_INFO.NMI',
      value: '0',
    });
    expect(parseEdit('1,204:RFLAGS.IF of L1 = 1')).toEqual({
      step: 1204,
      target: 'RFLAGS.IF of L1',
      value: '1',
    });
  });
  it('names what is missing and where', () => {
    expect(() => parseEdit('x:RAX=1', 1)).toThrow(
      /^edit 2 \('x:RAX=1'\), column 1: .*'x' is not a step number/,
    );
    expect(() => parseEdit('5:RAX', 0)).toThrow(/column 6: '=VALUE' is missing/);
    expect(() => parseEdit('5:=1', 0)).toThrow(/column 3: the target is missing/);
  });
});

describe('a fork of soft-vnmi with virtual NMIs', () => {
  const on = { virtual_nmis: true };

  it('clearing virtual-NMI blocking before the VM entry lets the second NMI in before the handler IRETs', () => {
    const b = base('soft-vnmi', on);
    // The original: the NMI window opens at the handler's IRET (step 36), exit 8 at step 37.
    expect(exits(b)).toContainEqual([37, 8]);
    const f = fork('soft-vnmi', on, ['30:GUEST_INTERRUPTIBILITY_INFO.NMI=0']);
    // Step 31 is the edit; the VM entry (32) loads no blocking, so the NMI window exit comes at once.
    const ev = f.view(31).event!;
    expect(ev.kind).toBe('edit');
    expect(f.view(31).explanation.text).toMatch(
      /^Edited by the user \(fork edit 1 \(30:GUEST_INTERRUPTIBILITY_INFO.NMI=0\)\): GUEST_INTERRUPTIBILITY_INFO.NMI of the current VMCS: 1 → 0/,
    );
    expect(f.view(32).event!.kind).toBe('vmentry');
    expect(f.view(33).event).toMatchObject({ kind: 'vmexit', data: { reason: 8 } });
    // The second NMI is injected while the first handler still runs (step 36, not 40): it nests.
    const injections = (s: LabSession) =>
      s
        .traceEvents()
        .filter((e) => e.kind === 'vmentry' && e.data.injected === 0x80000202)
        .map((e) => e.step);
    expect(injections(b)).toEqual([11, 40]);
    expect(injections(f)).toEqual([11, 36]);
    const irets = f.traceEvents().filter((e) => e.kind === 'iret');
    expect(irets[0].step).toBeGreaterThan(36);
    expect(f.assertions.find((a) => a.message.includes('never nested'))?.passed).toBe(false);
    // The steps before the edit are the original's.
    expect(f.traceEvents().slice(0, 30)).toEqual(b.traceEvents().slice(0, 30));
  });

  it('seeking back and forth across the edit gives the fork, not the original', () => {
    const f = fork('soft-vnmi', on, ['30:GUEST_INTERRUPTIBILITY_INFO.NMI=0']);
    const at33 = JSON.stringify(f.view(33));
    f.view(f.totalSteps);
    f.view(5);
    expect(JSON.stringify(f.view(33))).toBe(at33);
    expect(f.view(31).vmx.vmcs[0].fields.find((x) => x.name === 'GUEST_INTERRUPTIBILITY_INFO')?.value).toBe(
      0,
    );
    expect(f.view(30).vmx.vmcs[0].fields.find((x) => x.name === 'GUEST_INTERRUPTIBILITY_INFO')?.value).toBe(
      8,
    );
  });

  it('a pending NMI raised by an edit is taken by KVM', () => {
    const f = fork('soft-vnmi', on, ['5:nmi of L1=1']);
    expect(f.view(6).event!.kind).toBe('edit');
    expect(f.view(6).explanation.text).toMatch(/an NMI raised at L1's interrupt controller/);
    // The vCPU was running: kicked out by the reschedule IPI; the NMI waits for the STI shadow
    // (an interrupt window), and goes in with the scenario's first NMI.
    expect(f.view(7).event).toMatchObject({ kind: 'vmexit', data: { reason: 1 } });
    expect(f.view(13).event).toMatchObject({ kind: 'vmexit', data: { reason: 7 } });
    expect(f.view(16).explanation.text).toMatch(/nmi_pending = 2/);
  });
});

describe('each target kind', () => {
  it('a register of the running level, and a flag', () => {
    const f = fork('apic-priority', {}, ['2:RAX=0x1234', '2:RFLAGS.IF=1']);
    const v = f.view(3);
    expect(v.event!.kind).toBe('edit');
    expect(v.levels[0].cpu.regs[0].value).toBe('0x0000000000001234');
    expect(v.levels[0].cpu.if).toBe(true);
    expect(v.explanation.text).toMatch(/fork edits 1 \(2:RAX=0x1234\), 2 \(2:RFLAGS.IF=1\)/);
  });

  it('RFLAGS.IF of a resting guest is its GUEST_RFLAGS', () => {
    const b = base('soft-vnmi');
    // Step 9: KVM runs, L1 rests in vmcs01's guest-state area with IF = 1.
    expect(b.view(9).levels[1].cpu.if).toBe(true);
    const f = fork('soft-vnmi', {}, ['9:RFLAGS.IF of L1=0']);
    const g = f.view(10).vmx.vmcs[0].fields.find((x) => x.name === 'GUEST_RFLAGS')!.value;
    expect(g & 0x200).toBe(0);
    expect(f.view(10).levels[1].cpu.if).toBe(false);
  });

  it('an IRR vector of the physical APIC', () => {
    const b = base('apic-priority');
    const f = fork('apic-priority', {}, ['1:IRR[0x40]=1']);
    expect(f.view(2).levels[0].apic.irr).toContain(0x40);
    expect(b.view(1).levels[0].apic.irr).not.toContain(0x40);
  });

  it('a pending interrupt raised at L0', () => {
    const f = fork('apic-priority', {}, ['1:irq=0x41']);
    expect(f.view(2).levels[0].apic.irr).toContain(0x41);
  });

  it('an NMI raised at a machine that had halted for good wakes it (here: no NMI gate, a triple fault)', () => {
    const b = base('apic-priority');
    expect(b.info().endReason).toBe('halted');
    const f = fork('apic-priority', {}, [`${b.totalSteps}:nmi=1`]);
    expect(f.view(b.totalSteps + 1).event!.kind).toBe('edit');
    expect(f.view(b.totalSteps + 2).event!.kind).toBe('shutdown');
  });

  it('blocking by NMI of the running level', () => {
    const f = fork('apic-priority', {}, ['1:blocking_by_nmi=1']);
    expect(f.view(2).levels[0].cpu.interruptibility.nmi).toBe(true);
  });
});

describe('edits that cannot be read or applied', () => {
  it('an unknown target names the closest names', () => {
    const e = forkError('soft-vnmi', {}, ['30:GUEST_INTERRUPTIBILITY_INFOO.NMI=0']);
    expect(e.kind).toBe('fork');
    expect(e.message).toMatch(
      /^edit 1 \('30:GUEST_INTERRUPTIBILITY_INFOO.NMI=0'\), column 4: .*closest names: .*GUEST_INTERRUPTIBILITY_INFO/,
    );
    expect(forkError('soft-vnmi', {}, ['3:RAZ=1']).message).toMatch(/closest names: RAX/);
  });
  it('a bit the field does not define', () => {
    expect(forkError('soft-vnmi', {}, ['30:GUEST_INTERRUPTIBILITY_INFO.FOO=0']).message).toMatch(
      /GUEST_INTERRUPTIBILITY_INFO has no bit 'FOO'; its bits are/,
    );
  });
  it('a value out of range, or not a number', () => {
    expect(forkError('soft-vnmi', {}, ['30:GUEST_INTERRUPTIBILITY_INFO.NMI=2']).message).toMatch(
      /column 36: 2 is out of range for GUEST_INTERRUPTIBILITY_INFO.NMI of the current VMCS \(1 bit: 0 to 0x1\)/,
    );
    expect(forkError('soft-vnmi', {}, ['3:IRR[300]=1']).message).toMatch(/a vector is 16 to 255/);
    expect(forkError('soft-vnmi', {}, ['3:RAX=lots']).message).toMatch(/column 7: 'lots' is not a value/);
  });
  it('a step beyond the run', () => {
    const n = base('soft-vnmi').totalSteps;
    expect(forkError('soft-vnmi', {}, [`${n + 5}:RAX=1`]).message).toMatch(
      new RegExp(`step ${n + 5} is beyond the run \\(the fork ends at step ${n}\\)`),
    );
  });
  it('a level the run does not have, and a KVM variable', () => {
    expect(forkError('soft-vnmi', {}, ['3:RAX of L5=1']).message).toMatch(/this run has levels L0 to L1/);
    expect(forkError('soft-vnmi', {}, ['3:soft_vnmi_blocked=1']).message).toMatch(
      /a variable of the KVM model/,
    );
  });
  it('a VMCS field before there is a VMCS', () => {
    expect(forkError('soft-vnmi', {}, ['0:GUEST_RFLAGS=2']).message).toMatch(
      /there is no current VMCS at step 0/,
    );
  });
});
