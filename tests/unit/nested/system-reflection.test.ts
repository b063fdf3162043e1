// nested_vmx_l1_wants_exit for the exits of issue 10 item 6 (arch/x86/kvm/vmx/nested.c):
// nested_vmx_exit_handled_cr, nested_vmx_exit_handled_io and vmcs12's INVLPG, RDPMC, MWAIT,
// MONITOR, WBINVD and RDRAND exiting. An exit L1 asked for is reflected with its
// qualification and instruction information; one it did not ask for is handled by L0 for L2.
// prepare_vmcs02 merges the CR masks and gives L2 vmcs12's read shadows.
import { describe, expect, it } from 'vitest';
import {
  ExitReason,
  F,
  Fn,
  decisions,
  l1Exits,
  l1Program,
  lbl,
  q,
  runNested,
  vmcs02,
  vmcs12,
} from './nested-helpers';

const PROC = 'vmwrite CPU_BASED_VM_EXEC_CONTROL';
const SEC = (bit: string) => [
  `${PROC}, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS`,
  `vmwrite SECONDARY_VM_EXEC_CONTROL, ${bit}`,
];

/** L1 runs L2 = `l2` then VMCALL, with `setup`; returns the session and L1's first exit. */
function nest(l2: string[], setup: string[] = [], data: string[] = []) {
  const s = runNested(
    l1Program({ setup, l2: [...l2.map((l, i) => (i === 0 ? `l2_insn: ${l}` : l)), 'l2_call: vmcall'], data }),
  );
  const e = l1Exits(s)[0];
  return { s, e, at: (enc: number) => vmcs12(s, e.step, enc) };
}

describe('I/O: nested_vmx_exit_handled_io', () => {
  it('without I/O exiting in vmcs12, L0 handles the exit (vmcs02 always exits on I/O)', () => {
    const { s, e } = nest(['in al, 0x80']);
    expect(e.reason).toBe(ExitReason.VMCALL);
    expect(decisions(s, Fn.handle_io).filter((d) => d.step < e.step)).toHaveLength(1);
  });
  it('with unconditional I/O exiting in vmcs12: reflected with the qualification and length', () => {
    const { s, e, at } = nest(['in al, 0x80'], [`${PROC}, CPU_BASED_UNCOND_IO_EXITING`]);
    expect(e).toMatchObject({ reason: ExitReason.IO_INSTRUCTION, how: 'reflect' });
    expect([at(F.EXIT_QUALIFICATION), at(F.VM_EXIT_INSTRUCTION_LEN), at(F.GUEST_RIP)]).toEqual([
      0x800048,
      2,
      lbl(s, 'l2_insn'),
    ]);
  });
  it("with vmcs12's I/O bitmaps: the port's bit in L1's bitmap decides", () => {
    const data = ['        .align 4096', 'io_a: .zero 4096', 'io_b: .zero 4096'];
    const setup = (poke: string[]) => [
      `${PROC}, CPU_BASED_USE_IO_BITMAPS | CPU_BASED_UNCOND_IO_EXITING`,
      'vmwrite IO_BITMAP_A, io_a',
      'vmwrite IO_BITMAP_B, io_b',
      ...poke,
    ];
    const hit = nest(['in al, 0x80'], setup(['mov byte [io_a + 0x10], 1']), data);
    expect(hit.e.reason).toBe(ExitReason.IO_INSTRUCTION);
    const miss = nest(['in al, 0x80'], setup([]), data);
    expect(miss.e.reason).toBe(ExitReason.VMCALL);
    expect(vmcs02(miss.s, miss.e.step - 1, F.CPU_BASED_VM_EXEC_CONTROL) & 0x01000000).toBe(0x01000000);
  });
});

describe('CR access: nested_vmx_exit_handled_cr', () => {
  it("MOV to CR3 without CR3-load exiting in vmcs12: L0 handles it; vmcs12 gets L2's CR3 at the next exit", () => {
    const { s, e, at } = nest(['mov rax, 0x6000', 'mov cr3, rax']);
    expect(e.reason).toBe(ExitReason.VMCALL);
    expect(decisions(s, Fn.handle_cr).filter((d) => d.step < e.step)).toHaveLength(1);
    expect(at(F.GUEST_CR3)).toBe(0x6000);
  });
  it('with CR3-load exiting and no matching target: reflected, qualification CR3 / MOV to / RAX', () => {
    const { e, at } = nest(['mov rax, 0x6000', 'mov cr3, rax'], [`${PROC}, CPU_BASED_CR3_LOAD_EXITING`]);
    expect(e.reason).toBe(ExitReason.CR_ACCESS);
    expect([at(F.EXIT_QUALIFICATION), at(F.VM_EXIT_INSTRUCTION_LEN)]).toEqual([0x003, 3]);
  });
  it("CR0: L2 reads vmcs12's shadow in L1's bits; a write changing one of them is reflected", () => {
    const setup = [
      'vmwrite CR0_GUEST_HOST_MASK, 0x8',
      'vmwrite CR0_READ_SHADOW, 0x8',
      'vmwrite GUEST_CR0, 0x80010033',
    ];
    const read = nest(['mov rbx, cr0', 'mov [l2_cr0], rbx'], setup, ['l2_cr0: .dq 0']);
    expect(read.e.reason).toBe(ExitReason.VMCALL);
    expect(q(read.s, 'l2_cr0')).toBe(0x8001003b);
    const write = nest(['mov rax, 0x80010033', 'mov cr0, rax'], setup);
    expect(write.e.reason).toBe(ExitReason.CR_ACCESS);
    expect(write.at(F.EXIT_QUALIFICATION)).toBe(0x000);
  });
});

describe("vmcs12's other controls", () => {
  it('RDRAND exiting: reflected with VMX_INSTRUCTION_INFO; without it L2 runs RDRAND itself', () => {
    const on = nest(['rdrand r9'], SEC('SECONDARY_EXEC_RDRAND_EXITING'));
    expect(on.e.reason).toBe(ExitReason.RDRAND);
    expect(on.at(F.VMX_INSTRUCTION_INFO)).toBe((9 << 3) | (2 << 11));
    const off = nest(['rdrand r9']);
    expect(off.e.reason).toBe(ExitReason.VMCALL);
  });
  it('WBINVD exiting: reflected; without it L0 emulates WBINVD for L2', () => {
    expect(nest(['wbinvd'], SEC('SECONDARY_EXEC_WBINVD_EXITING')).e.reason).toBe(ExitReason.WBINVD);
    const off = nest(['wbinvd']);
    expect(off.e.reason).toBe(ExitReason.VMCALL);
    expect(decisions(off.s, Fn.handle_wbinvd)).toHaveLength(1);
  });
  it('INVD: always reflected to L1 (nested_vmx_l1_wants_exit), with its length; L0 never emulates it', () => {
    const { s, e, at } = nest(['invd']);
    expect(e).toMatchObject({ reason: ExitReason.INVD, how: 'reflect' });
    expect([at(F.VM_EXIT_INSTRUCTION_LEN), at(F.GUEST_RIP)]).toEqual([2, lbl(s, 'l2_insn')]);
    expect(decisions(s, Fn.handle_invd)).toHaveLength(0);
  });
  it('INVLPG, RDPMC, MONITOR, MWAIT exiting: reflected when vmcs12 asks, else L0 handles them', () => {
    const CASES: [string, string, number, number][] = [
      ['invlpg [rbx]', 'CPU_BASED_INVLPG_EXITING', ExitReason.INVLPG, Fn.handle_invlpg],
      ['rdpmc', 'CPU_BASED_RDPMC_EXITING', ExitReason.RDPMC, Fn.handle_rdpmc],
      ['monitor', 'CPU_BASED_MONITOR_EXITING', ExitReason.MONITOR, Fn.handle_monitor],
      ['mwait', 'CPU_BASED_MWAIT_EXITING', ExitReason.MWAIT, Fn.handle_mwait],
    ];
    for (const [insn, ctl, reason, fn] of CASES) {
      const pre = ['xor ecx, ecx'];
      expect(nest([...pre, insn], [`${PROC}, ${ctl}`]).e.reason, insn).toBe(reason);
      const off = nest([...pre, insn]);
      expect(off.e.reason, insn).toBe(ExitReason.VMCALL);
      expect(decisions(off.s, fn), insn).toHaveLength(1);
    }
  });
});
