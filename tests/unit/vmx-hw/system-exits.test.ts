// VM exits of the instructions of issue 10 item 6 (SDM Vol. 3C "Instructions That Cause VM
// Exits Conditionally", "Exit Qualification for VM Exits", "VM-Exit Instruction-Information
// Field"), the CR0/CR4 guest/host masks and read shadows, I/O bitmaps, CR3-target values,
// exceptions through the exception bitmap, and CR0/CR3/CR4 across VM entry and exit.
import { describe, expect, it } from 'vitest';
import { label, reg } from '../helpers';
import { exits, field, runVmx, stepAt } from './vmx-helpers';

const PROC = 'vmwrite CPU_BASED_VM_EXEC_CONTROL';
const SEC = (bit: string) => [
  `${PROC}, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS`,
  `vmwrite SECONDARY_VM_EXEC_CONTROL, ${bit}`,
];

/** Runs `guest` (its first line labelled insn:, then a VMCALL), returning the first exit. */
function first(guest: string[], setup: string[] = [], extra: string[] = []) {
  const s = runVmx({
    setup,
    guest: [...guest.map((g, i) => (i === 0 ? `insn:   ${g}` : g)), 'gcall:  vmcall'],
    extra,
  });
  const x = exits(s)[0];
  return {
    s,
    reason: x.reason,
    atInsn: x.rip === label(s, 'insn'),
    len: field(s, 'VM_EXIT_INSTRUCTION_LEN'),
    qual: field(s, 'EXIT_QUALIFICATION'),
  };
}

describe('conditional exits: with the control, exit at the instruction with its length; without, none', () => {
  const CASES: [string, string[], string[], number, number, number][] = [
    ['INVLPG exiting', ['invlpg [rbx]'], [`${PROC}, CPU_BASED_INVLPG_EXITING`], 14, 3, 0x4000],
    ['RDPMC exiting', ['rdpmc'], [`${PROC}, CPU_BASED_RDPMC_EXITING`], 15, 2, 0],
    [
      'MWAIT exiting (no monitor armed: qualification 0)',
      ['mwait'],
      [`${PROC}, CPU_BASED_MWAIT_EXITING`],
      36,
      3,
      0,
    ],
    ['MONITOR exiting', ['monitor'], [`${PROC}, CPU_BASED_MONITOR_EXITING`], 39, 3, 0],
    ['WBINVD exiting', ['wbinvd'], SEC('SECONDARY_EXEC_WBINVD_EXITING'), 54, 2, 0],
    ['RDRAND exiting', ['rdrand r9'], SEC('SECONDARY_EXEC_RDRAND_EXITING'), 57, 4, 0],
    [
      'unconditional I/O exiting: in al, imm8',
      ['in al, 0x80'],
      [`${PROC}, CPU_BASED_UNCOND_IO_EXITING`],
      30,
      2,
      0x800048,
    ],
    ['CR8-load exiting', ['mov cr8, rax'], [`${PROC}, CPU_BASED_CR8_LOAD_EXITING`], 28, 4, 0x008],
    ['CR8-store exiting', ['mov r10, cr8'], [`${PROC}, CPU_BASED_CR8_STORE_EXITING`], 28, 4, 0xa18],
    ['CR3-store exiting', ['mov rdx, cr3'], [`${PROC}, CPU_BASED_CR3_STORE_EXITING`], 28, 3, 0x213],
    [
      'CR3-load exiting (no target values)',
      ['mov cr3, rbx'],
      [`${PROC}, CPU_BASED_CR3_LOAD_EXITING`],
      28,
      3,
      0x303,
    ],
  ];
  for (const [name, guest, setup, reason, len, qual] of CASES) {
    it(`${name}: exit ${reason}`, () => {
      const pre = ['mov rbx, 0x4000', 'xor eax, eax', 'xor ecx, ecx'];
      // The host sets the registers before the entry: the guest starts with them.
      const withCtl = first(guest, [...setup, ...pre]);
      expect([withCtl.reason, withCtl.atInsn, withCtl.len, withCtl.qual]).toEqual([reason, true, len, qual]);
      const without = first(guest, pre);
      expect(exits(without.s).map((e) => e.reason)).toEqual([18]);
    });
  }

  it('MWAIT exit qualification bit 0: the monitoring hardware is armed', () => {
    const s = runVmx({
      setup: [`${PROC}, CPU_BASED_MWAIT_EXITING`],
      guest: ['        xor ecx, ecx', '        monitor', 'insn:   mwait', '        vmcall'],
    });
    expect([exits(s)[0].reason, field(s, 'EXIT_QUALIFICATION')]).toEqual([36, 1]);
  });

  it('RDRAND: VMX_INSTRUCTION_INFO holds the register (6:3) and the operand size (12:11)', () => {
    const r64 = first(['rdrand r9'], SEC('SECONDARY_EXEC_RDRAND_EXITING'));
    expect(field(r64.s, 'VMX_INSTRUCTION_INFO')).toBe((9 << 3) | (2 << 11));
    const r32 = first(['rdrand edx'], SEC('SECONDARY_EXEC_RDRAND_EXITING'));
    expect([field(r32.s, 'VMX_INSTRUCTION_INFO'), r32.len]).toEqual([(2 << 3) | (1 << 11), 3]);
  });

  it('INVLPG: the qualification is the linear address of the operand, index and scale included', () => {
    const x = first(
      ['invlpg [rbx+rcx*4+8]'],
      [`${PROC}, CPU_BASED_INVLPG_EXITING`, 'mov rbx, 0x5000', 'mov ecx, 3'],
    );
    expect([x.reason, x.qual, x.len]).toEqual([14, 0x5000 + 12 + 8, 5]);
  });

  it('I/O qualification: size - 1, direction, DX encoding, the port', () => {
    const out = first(['out dx, eax'], [`${PROC}, CPU_BASED_UNCOND_IO_EXITING`, 'mov edx, 0x3f8']);
    expect([out.reason, out.qual, out.len]).toEqual([30, (0x3f8 << 16) | 3, 1]);
    const inw = first(['in ax, dx'], [`${PROC}, CPU_BASED_UNCOND_IO_EXITING`, 'mov edx, 0x60']);
    expect([inw.qual, inw.len]).toEqual([(0x60 << 16) | 8 | 1, 2]);
  });
});

describe('I/O bitmaps', () => {
  const IO = ['        .align 4096', 'io_a:   .zero 4096', 'io_b:   .zero 4096'];
  const withBitmaps = (pokes: string[], guest: string[], uncond = true) =>
    first(
      guest,
      [
        `${PROC}, CPU_BASED_USE_IO_BITMAPS${uncond ? ' | CPU_BASED_UNCOND_IO_EXITING' : ''}`,
        'vmwrite IO_BITMAP_A, io_a',
        'vmwrite IO_BITMAP_B, io_b',
        ...pokes,
      ],
      IO,
    );
  it('a port whose bit is 0 does not exit, even with unconditional I/O exiting (bitmaps override it)', () => {
    const x = withBitmaps([], ['in al, 0x80']);
    expect(x.reason).toBe(18);
  });
  it('bitmap A covers 0000h-7FFFh, bitmap B 8000h-FFFFh', () => {
    const a = withBitmaps(['mov byte [io_a + 0x10], 1'], ['in al, 0x80'], false);
    expect([a.reason, a.qual]).toEqual([30, 0x800048]);
    const b = withBitmaps(['mov byte [io_b + 0x1], 2', 'mov edx, 0x8009'], ['out dx, al'], false);
    expect([b.reason, b.qual]).toEqual([30, 0x80090000]);
    const bNot = withBitmaps(['mov byte [io_a + 0x1], 2', 'mov edx, 0x8009'], ['out dx, al'], false);
    expect(bNot.reason).toBe(18);
  });
  it('a multi-byte access exits when the bit of any of its ports is 1, and when it wraps past FFFFh', () => {
    const x = withBitmaps(['mov byte [io_a + 0x10], 8', 'mov edx, 0x80'], ['in eax, dx'], false); // port 0x83
    expect(x.reason).toBe(30);
    const wrap = withBitmaps(['mov edx, 0xfffe'], ['in eax, dx'], false);
    expect(wrap.reason).toBe(30);
  });
});

describe('CR3-target values', () => {
  it('MOV to CR3 of one of the first CR3_TARGET_COUNT values does not exit; another value does', () => {
    const setup = [
      `${PROC}, CPU_BASED_CR3_LOAD_EXITING`,
      'vmwrite CR3_TARGET_COUNT, 2',
      'vmwrite CR3_TARGET_VALUE0, 0x3000',
      'vmwrite CR3_TARGET_VALUE1, 0x4000',
      'vmwrite CR3_TARGET_VALUE2, 0x5000',
    ];
    const hit = first(['mov rax, 0x4000', 'mov cr3, rax', 'mov rbx, cr3'], setup);
    expect(hit.reason).toBe(18);
    expect(reg(hit.s, 'rbx')).toBe(0x4000n);
    const miss = first(['mov rax, 0x5000', 'm: mov cr3, rax'], setup);
    expect([miss.reason, exits(miss.s)[0].rip]).toEqual([28, label(miss.s, 'm')]);
  });
});

describe('CR0/CR4 guest/host masks and read shadows', () => {
  const setup = [
    'vmwrite CR0_GUEST_HOST_MASK, 0x8',
    'vmwrite CR0_READ_SHADOW, 0x8',
    'vmwrite CR4_GUEST_HOST_MASK, 0x80',
    'vmwrite CR4_READ_SHADOW, 0',
  ];
  it('MOV from CR0/CR4 reads host-owned bits from the read shadow', () => {
    const x = first(['mov rax, cr0', 'mov rbx, cr4'], setup);
    expect(x.reason).toBe(18);
    // The real CR0 (fixed bits kept at 1) has TS = 0; the guest reads TS = 1 from the shadow.
    expect(reg(x.s, 'rax') & 0x8n).toBe(0x8n);
    expect(reg(x.s, 'rbx') & 0x80n).toBe(0n);
  });
  it('MOV to CR0 exits when a host-owned bit differs from the shadow (qualification: CR0, MOV to, the GPR)', () => {
    const x = first(['mov rcx, 0x80000031', 'm: mov cr0, rcx'], setup);
    expect([x.reason, x.qual, exits(x.s)[0].rip]).toEqual([28, 0x100, label(x.s, 'm')]);
  });
  it('MOV to CR0 with host-owned bits equal to the shadow does not exit and leaves those bits alone', () => {
    const x = first(['mov rcx, 0x80000039', 'mov cr0, rcx', 'mov rdx, cr0'], setup);
    expect(x.reason).toBe(18);
    expect(field(x.s, 'GUEST_CR0') & 0x8).toBe(0); // the real TS stays 0
    expect(reg(x.s, 'rdx')).toBe(0x80000039n);
  });
  it('MOV to CR4 exits on a host-owned bit (PGE) differing from its shadow', () => {
    const x = first(['mov rax, 0x20a0', 'mov cr4, rax'], setup);
    expect([x.reason, x.qual]).toEqual([28, 0x004]);
  });
});

describe('exceptions of the new instructions through the exception bitmap', () => {
  it('UD2 with bit 6: exit 0, hardware exception #UD at the instruction', () => {
    const x = first(['ud2'], ['vmwrite EXCEPTION_BITMAP, 0x40']);
    expect([x.reason, field(x.s, 'VM_EXIT_INTR_INFO'), x.atInsn]).toEqual([0, 0x80000306, true]);
  });
  it('DIV by zero with bit 0: #DE, type 3', () => {
    const x = first(['div rcx'], ['vmwrite EXCEPTION_BITMAP, 1', 'xor ecx, ecx']);
    expect([x.reason, field(x.s, 'VM_EXIT_INTR_INFO')]).toEqual([0, 0x80000300]);
  });
  it('INT1 with bit 1: privileged software exception (type 5), RIP at INT1, instruction length 1', () => {
    const x = first(['int1'], ['vmwrite EXCEPTION_BITMAP, 2']);
    expect([x.reason, field(x.s, 'VM_EXIT_INTR_INFO'), x.atInsn, x.len]).toEqual([0, 0x80000501, true, 1]);
  });
  it('INT1 whose gate is missing: the #NP exit records INT1 (type 5) as IDT-vectoring, with its length; EXT = 1', () => {
    const x = first(['int1'], ['vmwrite EXCEPTION_BITMAP, 0x800']);
    expect([x.reason, field(x.s, 'VM_EXIT_INTR_INFO'), field(x.s, 'VM_EXIT_INTR_ERROR_CODE')]).toEqual([
      0,
      0x80000b0b,
      (1 << 3) | 2 | 1,
    ]);
    expect([field(x.s, 'IDT_VECTORING_INFO_FIELD'), x.len, x.atInsn]).toEqual([0x80000501, 1, true]);
  });
  it('INTO is #UD in 64-bit mode: with bit 4 only it does not exit as #OF', () => {
    const x = first(['into'], ['vmwrite EXCEPTION_BITMAP, 0x50']);
    expect(field(x.s, 'VM_EXIT_INTR_INFO')).toBe(0x80000306);
  });
});

describe('CR0, CR3 and CR4 across VM entry and VM exit', () => {
  it('entry loads the guest fields, exit saves them and loads the host fields', () => {
    const s = runVmx({
      setup: [
        'vmwrite GUEST_CR0, 0x80010033',
        'vmwrite GUEST_CR3, 0x7000',
        'vmwrite GUEST_CR4, 0x20a0',
        'vmwrite HOST_CR0, 0x80000033',
        'vmwrite HOST_CR3, 0x9000',
        'vmwrite HOST_CR4, 0x2000',
        'vmwrite VM_EXIT_CONTROLS, VM_EXIT_HOST_ADDR_SPACE_SIZE',
      ],
      guest: [
        '        mov rax, cr0',
        '        mov rbx, cr3',
        '        mov rcx, cr4',
        '        mov rdx, 0x8000',
        '        mov cr3, rdx',
        'gcall:  vmcall',
      ],
      host: ['        mov r8, cr0', '        mov r9, cr3', '        mov r10, cr4'],
    });
    const n = stepAt(s, 'gcall');
    expect([reg(s, 'rax', n), reg(s, 'rbx', n), reg(s, 'rcx', n)]).toEqual([0x80010033n, 0x7000n, 0x20a0n]);
    expect([field(s, 'GUEST_CR0'), field(s, 'GUEST_CR3'), field(s, 'GUEST_CR4')]).toEqual([
      0x80010033, 0x8000, 0x20a0,
    ]);
    // HOST_CR4 lacks PAE: "host address-space size" sets it.
    expect([reg(s, 'r8'), reg(s, 'r9'), reg(s, 'r10')]).toEqual([0x80000033n, 0x9000n, 0x2020n]);
  });
  it('fields left 0 keep the VMX-fixed bits at 1 (CR0.PE/NE/PG, CR4.VMXE) and CR0.ET', () => {
    const s = runVmx({ guest: ['        mov rax, cr0', '        mov rbx, cr4', 'gcall:  vmcall'] });
    const n = stepAt(s, 'gcall');
    expect([reg(s, 'rax', n), reg(s, 'rbx', n)]).toEqual([0x80000031n, 0x2000n]);
  });
});

describe('checks on these controls at VM entry', () => {
  it('CR3_TARGET_COUNT above 4, or an unaligned I/O bitmap, fails VMLAUNCH with error 7', () => {
    const cases = [
      ['vmwrite CR3_TARGET_COUNT, 5'],
      [`${PROC}, CPU_BASED_USE_IO_BITMAPS`, 'vmwrite IO_BITMAP_A, 0x10010', 'vmwrite IO_BITMAP_B, 0x11000'],
    ];
    for (const setup of cases) {
      const s = runVmx({ setup });
      expect(exits(s)).toEqual([]);
      expect(field(s, 'VM_INSTRUCTION_ERROR')).toBe(7);
    }
    const ok = runVmx({ setup: ['vmwrite CR3_TARGET_COUNT, 4'] });
    expect(exits(ok).map((e) => e.reason)).toEqual([18]);
  });
});

describe('the explanation of these exits decodes the qualification', () => {
  it('I/O, CR access and RDRAND', () => {
    const text = (guest: string[], setup: string[]) => {
      const x = first(guest, setup);
      return x.s.view(exits(x.s)[0].step).explanation.text;
    };
    expect(text(['in al, 0x80'], [`${PROC}, CPU_BASED_UNCOND_IO_EXITING`])).toMatch(
      /Exit qualification 0x800048: IN from port 0x80, 1 byte, immediate port operand; instruction length 2/,
    );
    expect(text(['mov r10, cr8'], [`${PROC}, CPU_BASED_CR8_STORE_EXITING`])).toMatch(/MOV from CR8 to r10/);
    expect(text(['rdrand r9'], SEC('SECONDARY_EXEC_RDRAND_EXITING'))).toMatch(
      /destination register 9, 64-bit/,
    );
  });
});
