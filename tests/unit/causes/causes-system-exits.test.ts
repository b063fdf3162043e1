// "Why, with causes" for instructions that exit through a control in VMX non-root operation
// (SDM "Instructions That Cause VM Exits Conditionally", "I/O Bitmaps", "MSR-Bitmap Address"):
// the control, the guest/host mask bit or the bitmap bit the processor read is the deciding
// read of the exit (vmx/non-root-system.ts, vmx/non-root.ts msrExits).
import { describe, expect, it } from 'vitest';
import { type CauseInput, causesOf } from '../../../src/core/causes/causes';
import { fieldByName } from '../../../src/core/vmx';
import { label } from '../helpers';
import { exits, runVmx } from '../vmx-hw/vmx-helpers';

const PROC = 'vmwrite CPU_BASED_VM_EXEC_CONTROL';
const SEC = (bit: string) => [
  `${PROC}, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS`,
  `vmwrite SECONDARY_VM_EXEC_CONTROL, ${bit}`,
];
const IO = ['        .align 4096', 'io_a:   .zero 4096', 'io_b:   .zero 4096'];

/** The first exit of `guest` run under `setup`, and the deciding inputs causes() gives it. */
function firstExit(guest: string[], setup: string[], extra: string[] = []) {
  const s = runVmx({ setup, guest: [...guest, 'gcall:  vmcall'], extra });
  const x = exits(s)[0];
  const v = causesOf(s, x.step);
  return { s, reason: x.reason, deciding: v.inputs.filter((i) => i.decides), all: v.inputs };
}

function enc(name: string): number {
  return fieldByName(name)!.encoding;
}

/** The deciding VMCS read of `field` with `mask`. */
function vmcsRead(inputs: CauseInput[], field: string, mask: number): CauseInput | undefined {
  return inputs.find(
    (i) => i.what.k === 'vmcs' && i.what.enc === enc(field) && i.what.mask >>> 0 === mask >>> 0,
  );
}

describe('a control decides the exit: it is the one deciding read, with value 1', () => {
  const CASES: [string, string[], string[], number, string, string, number][] = [
    [
      'INVLPG',
      ['invlpg [rbx]'],
      [`${PROC}, CPU_BASED_INVLPG_EXITING`],
      14,
      'CPU_BASED_VM_EXEC_CONTROL',
      'INVLPG_EXITING',
      1 << 9,
    ],
    [
      'RDPMC',
      ['rdpmc'],
      [`${PROC}, CPU_BASED_RDPMC_EXITING`],
      15,
      'CPU_BASED_VM_EXEC_CONTROL',
      'RDPMC_EXITING',
      1 << 11,
    ],
    [
      'MWAIT',
      ['mwait'],
      [`${PROC}, CPU_BASED_MWAIT_EXITING`],
      36,
      'CPU_BASED_VM_EXEC_CONTROL',
      'MWAIT_EXITING',
      1 << 10,
    ],
    [
      'MONITOR',
      ['monitor'],
      [`${PROC}, CPU_BASED_MONITOR_EXITING`],
      39,
      'CPU_BASED_VM_EXEC_CONTROL',
      'MONITOR_EXITING',
      1 << 29,
    ],
    [
      'WBINVD',
      ['wbinvd'],
      SEC('SECONDARY_EXEC_WBINVD_EXITING'),
      54,
      'SECONDARY_VM_EXEC_CONTROL',
      'WBINVD_EXITING',
      1 << 6,
    ],
    [
      'RDRAND',
      ['rdrand r9'],
      SEC('SECONDARY_EXEC_RDRAND_EXITING'),
      57,
      'SECONDARY_VM_EXEC_CONTROL',
      'RDRAND_EXITING',
      1 << 11,
    ],
    [
      'CR8 load',
      ['mov cr8, rax'],
      [`${PROC}, CPU_BASED_CR8_LOAD_EXITING`],
      28,
      'CPU_BASED_VM_EXEC_CONTROL',
      'CR8_LOAD_EXITING',
      1 << 19,
    ],
    [
      'CR8 store',
      ['mov r10, cr8'],
      [`${PROC}, CPU_BASED_CR8_STORE_EXITING`],
      28,
      'CPU_BASED_VM_EXEC_CONTROL',
      'CR8_STORE_EXITING',
      1 << 20,
    ],
    [
      'CR3 store',
      ['mov rdx, cr3'],
      [`${PROC}, CPU_BASED_CR3_STORE_EXITING`],
      28,
      'CPU_BASED_VM_EXEC_CONTROL',
      'CR3_STORE_EXITING',
      1 << 16,
    ],
    [
      'unconditional I/O',
      ['in al, 0x80'],
      [`${PROC}, CPU_BASED_UNCOND_IO_EXITING`],
      30,
      'CPU_BASED_VM_EXEC_CONTROL',
      'UNCOND_IO_EXITING',
      1 << 24,
    ],
  ];
  for (const [name, guest, setup, reason, field, bit, mask] of CASES)
    it(`${name} exiting: ${field}.${bit} of vmcs01 = 1 decides exit ${reason}`, () => {
      const x = firstExit(guest, setup);
      expect(x.reason).toBe(reason);
      const r = vmcsRead(x.deciding, field, mask);
      expect(r, x.all.map((i) => i.label).join(', ')).toMatchObject({
        value: '1',
        decides: true,
        by: 'processor',
      });
      expect(r!.label).toBe(`${field}.${bit} of vmcs01`);
      // The control was set by the host's VMWRITE before VMLAUNCH.
      expect(r!.setBy?.actor).toMatch(/vmwrite/);
    });
});

describe('CR3-load exiting reads the control and CR3_TARGET_COUNT', () => {
  it('a value that matches no target value exits; the control and the count decide', () => {
    const x = firstExit(
      ['mov rax, 0x5000', 'mov cr3, rax'],
      [
        `${PROC}, CPU_BASED_CR3_LOAD_EXITING`,
        'vmwrite CR3_TARGET_COUNT, 1',
        'vmwrite CR3_TARGET_VALUE0, 0x3000',
      ],
    );
    expect(x.reason).toBe(28);
    expect(vmcsRead(x.deciding, 'CPU_BASED_VM_EXEC_CONTROL', 1 << 15)).toMatchObject({ value: '1' });
    expect(vmcsRead(x.deciding, 'CR3_TARGET_COUNT', 0xffffffff)).toMatchObject({
      label: 'CR3_TARGET_COUNT of vmcs01',
      value: '0x1',
    });
  });
});

describe('MOV to CR0: the host-owned bit that differs from the read shadow decides', () => {
  it('CR0.TS owned by the host (mask bit 3 = 1), shadow TS = 1, the guest writes TS = 0', () => {
    const x = firstExit(
      ['mov rcx, 0x80000031', 'mov cr0, rcx'],
      ['vmwrite CR0_GUEST_HOST_MASK, 0x8', 'vmwrite CR0_READ_SHADOW, 0x8'],
    );
    expect(x.reason).toBe(28);
    expect(vmcsRead(x.deciding, 'CR0_GUEST_HOST_MASK', 8)).toMatchObject({ value: '1', decides: true });
    expect(vmcsRead(x.deciding, 'CR0_READ_SHADOW', 8)).toMatchObject({ value: '1', decides: true });
  });
});

describe('I/O bitmaps: the port bit decides, after "use I/O bitmaps"', () => {
  it('port 0x83 of a 4-byte IN at 0x80: bit 3 of byte 0x10 of bitmap A', () => {
    const x = firstExit(
      ['in eax, dx'],
      [
        `${PROC}, CPU_BASED_USE_IO_BITMAPS`,
        'vmwrite IO_BITMAP_A, io_a',
        'vmwrite IO_BITMAP_B, io_b',
        'mov byte [io_a + 0x10], 8',
        'mov edx, 0x80',
      ],
      IO,
    );
    expect(x.reason).toBe(30);
    expect(vmcsRead(x.deciding, 'CPU_BASED_VM_EXEC_CONTROL', 1 << 25)).toMatchObject({ value: '1' });
    const bit = x.deciding.find((i) => i.what.k === 'mem' && i.value === '1');
    expect(bit?.what).toMatchObject({ k: 'mem', addr: label(x.s, 'io_a') + 0x10, bit: 3 });
    expect(bit).toMatchObject({ value: '1', decides: true, by: 'processor' });
    expect(bit!.label).toMatch(/^I\/O bitmap A, port 0x83 /);
    // The ports before it were read and were 0; they are inputs too (the access checks all).
    expect(x.all.filter((i) => i.what.k === 'mem').map((i) => i.value)).toEqual(['0', '0', '0', '1']);
    // The bit was set by the host's MOV to the bitmap.
    expect(bit!.setBy?.actor).toMatch(/^`mov byte \[io_a/);
    expect([bit!.setBy?.from, bit!.setBy?.to]).toEqual(['0', '1']);
  });
});

describe("MSR bitmaps: the MSR's own bit decides", () => {
  it('RDMSR of MSR 0x10: bit 0 of byte 2 of the read bitmap', () => {
    const x = firstExit(
      ['mov ecx, 0x10', 'rdmsr'],
      [`${PROC}, CPU_BASED_USE_MSR_BITMAPS`, 'vmwrite MSR_BITMAP, msr_bitmap', 'mov byte [msr_bitmap+2], 1'],
    );
    expect(x.reason).toBe(31);
    expect(vmcsRead(x.deciding, 'CPU_BASED_VM_EXEC_CONTROL', 1 << 28)).toMatchObject({ value: '1' });
    const bit = x.deciding.find((i) => i.what.k === 'mem');
    expect(bit?.what).toMatchObject({ addr: label(x.s, 'msr_bitmap') + 2, bit: 0 });
    expect(bit).toMatchObject({ value: '1', decides: true });
    expect(bit!.label).toMatch(/^MSR read bitmap, MSR 0x10 /);
    expect(bit!.setBy?.actor).toMatch(/msr_bitmap\+2/);
  });
});
