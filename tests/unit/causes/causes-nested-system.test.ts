// "Why, with causes" under nesting for the exits of issue 10 item 6 and the MSR bitmap: KVM's
// nested_vmx_l1_wants_exit (nested_vmx_exit_handled_cr, _io, _msr and the vmcs12 controls of
// INVLPG, RDPMC, MWAIT, MONITOR, WBINVD, RDRAND) notes the vmcs12 control or the bit of L1's
// bitmap it read, and the route names it.
import { describe, expect, it } from 'vitest';
import { causesOf } from '../../../src/core/causes/causes';
import type { LabSession } from '../../../src/core/engine/session';
import { EventKind } from '../../../src/core/engine/view';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { open, scenarioDoc } from '../helpers';
import { type VmxProgram, vmxProgram } from '../vmx-hw/vmx-helpers';

const PROC = 'vmwrite CPU_BASED_VM_EXEC_CONTROL';
const IO = ['        .align 4096', 'io_a:   .zero 4096', 'io_b:   .zero 4096'];

/** The VMX program `p` run as L1 under KVM: its guest is L2. */
function nested(p: VmxProgram): LabSession {
  return open(nestUnderKvm(scenarioDoc(vmxProgram(p), [], { limits: { steps: 20000 } })));
}

/** A label of L1's program (the nested scenario's programs start with KVM's). */
function label(s: LabSession, name: string): number {
  const at = s.compiled.programs.map((p) => p.labels[name]).find((a) => a !== undefined);
  if (at === undefined) throw new Error(`no label ${name}`);
  return at;
}

/** The route of the first hardware exit of L2 (lane 2) with `reason`. */
function routeOf(s: LabSession, reason: number) {
  const t = s.sim.trace;
  for (let i = 0; i < t.length; i++)
    if (t.kind[i] === EventKind.VMEXIT && t.level[i] === 2 && (t.d0[i] & 0xffff) === reason)
      return causesOf(s, i + 1).routing!;
  throw new Error(`no exit ${reason} of L2`);
}

describe('nested_vmx_l1_wants_exit notes the vmcs12 control of a system instruction', () => {
  it('RDPMC with vmcs12 RDPMC exiting: reflected to L1, naming the bit', () => {
    const s = nested({ setup: [`${PROC}, CPU_BASED_RDPMC_EXITING`], guest: ['rdpmc', 'vmcall'] });
    const r = routeOf(s, 15);
    expect(r).toMatchObject({ fn: 'nested_vmx_l1_wants_exit', to: 'L1' });
    const bit = r.inputs.find((i) => i.label === 'CPU_BASED_VM_EXEC_CONTROL.RDPMC_EXITING of vmcs12');
    expect(bit).toMatchObject({ value: '1', decides: true, by: 'KVM L0' });
    expect(bit!.what).toMatchObject({ k: 'vmcs', owner: 1 });
    expect(r.text).toBe(
      'exit RDPMC: nested_vmx_l1_wants_exit read CPU_BASED_VM_EXEC_CONTROL.RDPMC_EXITING of vmcs12 = 1, so it is reflected to L1',
    );
  });

  it('CR8 load exiting in vmcs12', () => {
    const s = nested({ setup: [`${PROC}, CPU_BASED_CR8_LOAD_EXITING`], guest: ['mov cr8, rax', 'vmcall'] });
    const r = routeOf(s, 28);
    expect(r.to).toBe('L1');
    expect(
      r.inputs.find((i) => i.label === 'CPU_BASED_VM_EXEC_CONTROL.CR8_LOAD_EXITING of vmcs12'),
    ).toMatchObject({ value: '1' });
  });
});

describe("nested_vmx_exit_handled_io: the port's bit in L1's I/O bitmap", () => {
  const io = (poke: string[]) =>
    nested({
      setup: [
        `${PROC}, CPU_BASED_USE_IO_BITMAPS`,
        'vmwrite IO_BITMAP_A, io_a',
        'vmwrite IO_BITMAP_B, io_b',
        ...poke,
      ],
      guest: ['in al, 0x80', 'vmcall'],
      extra: IO,
    });

  it('bit 1: reflected to L1, naming the bit and the write that set it', () => {
    const s = io(['mov byte [io_a + 0x10], 1']);
    const r = routeOf(s, 30);
    expect(r).toMatchObject({ fn: 'nested_vmx_l1_wants_exit', to: 'L1' });
    expect(
      r.inputs.find((i) => i.label === 'CPU_BASED_VM_EXEC_CONTROL.USE_IO_BITMAPS of vmcs12'),
    ).toMatchObject({ value: '1' });
    const bit = r.inputs.find((i) => i.what.k === 'mem')!;
    expect(bit.what).toMatchObject({ k: 'mem', lane: 1, addr: label(s, 'io_a') + 0x10, bit: 0 });
    expect(bit).toMatchObject({ value: '1', decides: true, by: 'KVM L0' });
    expect(r.text).toMatch(
      /^exit IO_INSTRUCTION: nested_vmx_l1_wants_exit read I\/O bitmap A, port 0x80 .* = 1, so it is reflected to L1$/,
    );
    expect(bit.setBy?.actor).toBe('`mov byte [io_a+0x10], 1` at L1');
  });
});

describe("nested_vmx_exit_handled_msr: the MSR's bit in L1's MSR bitmap", () => {
  it('WRMSR of MSR 0x80b with its write bit set: reflected to L1, naming the bit', () => {
    const s = nested({
      setup: [
        `${PROC}, CPU_BASED_USE_MSR_BITMAPS`,
        'vmwrite MSR_BITMAP, msr_bitmap',
        'mov byte [msr_bitmap+0x800+0x101], 8',
      ],
      guest: ['mov ecx, 0x80b', 'xor eax, eax', 'xor edx, edx', 'wrmsr', 'vmcall'],
    });
    const r = routeOf(s, 32);
    expect(r).toMatchObject({ fn: 'nested_vmx_l1_wants_exit', to: 'L1' });
    const bit = r.inputs.find((i) => i.what.k === 'mem')!;
    expect(bit.what).toMatchObject({ addr: label(s, 'msr_bitmap') + 0x901, bit: 3 });
    expect(bit).toMatchObject({ value: '1', decides: true });
    expect(r.text).toContain('nested_vmx_l1_wants_exit read MSR write bitmap, MSR 0x80b');
  });
});
