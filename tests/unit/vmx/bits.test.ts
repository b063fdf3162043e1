import { describe, it, expect } from 'vitest';
import {
  CPU_BASED,
  GUEST_INTR_STATE,
  INTR_INFO,
  LAYOUTS,
  PIN_BASED,
  SECONDARY_EXEC,
  VECTORING_INFO,
  VM_ENTRY,
  VM_EXIT,
  X86_EFLAGS,
  EXIT_REASON_BITS,
  GUEST_ACTIVITY,
  decodeField,
  entryBits,
  fieldByName,
  layoutOf,
  type DecodedBit,
} from '../../../src/core/vmx';
import { widthInBits } from '../../../src/core/vmx/encoding';

/** The decoded entry called `name`, failing when there is none. */
function part(list: DecodedBit[], name: string): DecodedBit {
  const p = list.find((d) => d.name === name);
  if (!p) throw new Error(`no '${name}' in ${list.map((d) => d.name).join(', ')}`);
  return p;
}

/** name → value of the entries that are set. */
function setBits(list: DecodedBit[]): Record<string, number | bigint> {
  return Object.fromEntries(list.filter((d) => d.set).map((d) => [d.name, d.value]));
}

describe('control bits match facts §1.1-1.4', () => {
  it('pin-based (§1.1)', () => {
    expect(PIN_BASED).toEqual({
      PIN_BASED_EXT_INTR_MASK: 0x1,
      PIN_BASED_NMI_EXITING: 0x8,
      PIN_BASED_VIRTUAL_NMIS: 0x20,
      PIN_BASED_VMX_PREEMPTION_TIMER: 0x40,
      PIN_BASED_POSTED_INTR: 0x80,
    });
    expect(layoutOf('PIN_BASED_VM_EXEC_CONTROL')?.defaultOne).toBe(0x16);
  });

  it('primary processor-based (§1.2), with the old Linux names', () => {
    expect(CPU_BASED).toMatchObject({
      CPU_BASED_INTR_WINDOW_EXITING: 0x4,
      CPU_BASED_USE_TSC_OFFSETTING: 0x8,
      CPU_BASED_HLT_EXITING: 0x80,
      CPU_BASED_INVLPG_EXITING: 0x200,
      CPU_BASED_MWAIT_EXITING: 0x400,
      CPU_BASED_RDPMC_EXITING: 0x800,
      CPU_BASED_RDTSC_EXITING: 0x1000,
      CPU_BASED_CR3_LOAD_EXITING: 0x8000,
      CPU_BASED_CR3_STORE_EXITING: 0x10000,
      CPU_BASED_ACTIVATE_TERTIARY_CONTROLS: 0x20000,
      CPU_BASED_CR8_LOAD_EXITING: 0x80000,
      CPU_BASED_CR8_STORE_EXITING: 0x100000,
      CPU_BASED_TPR_SHADOW: 0x200000,
      CPU_BASED_NMI_WINDOW_EXITING: 0x400000,
      CPU_BASED_MOV_DR_EXITING: 0x800000,
      CPU_BASED_UNCOND_IO_EXITING: 0x1000000,
      CPU_BASED_USE_IO_BITMAPS: 0x2000000,
      CPU_BASED_MONITOR_TRAP_FLAG: 0x8000000,
      CPU_BASED_USE_MSR_BITMAPS: 0x10000000,
      CPU_BASED_MONITOR_EXITING: 0x20000000,
      CPU_BASED_PAUSE_EXITING: 0x40000000,
      CPU_BASED_ACTIVATE_SECONDARY_CONTROLS: 0x80000000,
    });
    const entries = layoutOf('CPU_BASED_VM_EXEC_CONTROL')!.entries;
    const old = (bit: number) => entries.find((e) => 'bit' in e && e.bit === bit);
    expect(old(2)).toMatchObject({ oldLinuxNames: ['CPU_BASED_VIRTUAL_INTR_PENDING'] });
    expect(old(22)).toMatchObject({ oldLinuxNames: ['CPU_BASED_VIRTUAL_NMI_PENDING'] });
  });

  it('secondary processor-based (§1.2 last line)', () => {
    expect(SECONDARY_EXEC).toMatchObject({
      SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES: 0x1,
      SECONDARY_EXEC_ENABLE_EPT: 0x2,
      SECONDARY_EXEC_ENABLE_VPID: 0x20,
      SECONDARY_EXEC_UNRESTRICTED_GUEST: 0x80,
      SECONDARY_EXEC_APIC_REGISTER_VIRT: 0x100,
      SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY: 0x200,
      SECONDARY_EXEC_TSC_SCALING: 0x2000000,
    });
  });

  it('VM-exit controls (§1.3)', () => {
    expect(VM_EXIT).toMatchObject({
      VM_EXIT_SAVE_DEBUG_CONTROLS: 0x4,
      VM_EXIT_HOST_ADDR_SPACE_SIZE: 0x200,
      VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL: 0x1000,
      VM_EXIT_ACK_INTR_ON_EXIT: 0x8000,
      VM_EXIT_SAVE_IA32_PAT: 0x40000,
      VM_EXIT_LOAD_IA32_PAT: 0x80000,
      VM_EXIT_SAVE_IA32_EFER: 0x100000,
      VM_EXIT_LOAD_IA32_EFER: 0x200000,
      VM_EXIT_SAVE_VMX_PREEMPTION_TIMER: 0x400000,
      VM_EXIT_CLEAR_BNDCFGS: 0x800000,
      VM_EXIT_LOAD_CET_STATE: 0x10000000,
    });
  });

  it('VM-entry controls (§1.4)', () => {
    expect(VM_ENTRY).toEqual({
      VM_ENTRY_LOAD_DEBUG_CONTROLS: 0x4,
      VM_ENTRY_IA32E_MODE: 0x200,
      VM_ENTRY_SMM: 0x400,
      VM_ENTRY_DEACT_DUAL_MONITOR: 0x800,
      VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL: 0x2000,
      VM_ENTRY_LOAD_IA32_PAT: 0x4000,
      VM_ENTRY_LOAD_IA32_EFER: 0x8000,
      VM_ENTRY_LOAD_BNDCFGS: 0x10000,
      VM_ENTRY_PT_CONCEAL_PIP: 0x20000,
      VM_ENTRY_LOAD_IA32_RTIT_CTL: 0x40000,
      VM_ENTRY_LOAD_CET_STATE: 0x100000,
    });
  });
});

describe('event-related formats match facts §1.6-1.10', () => {
  it('interruption information (§1.6, §1.7)', () => {
    expect(INTR_INFO).toEqual({
      INTR_INFO_VECTOR_MASK: 0xff,
      INTR_INFO_INTR_TYPE_MASK: 0x700,
      INTR_INFO_DELIVER_CODE_MASK: 0x800,
      INTR_INFO_UNBLOCK_NMI: 0x1000,
      INTR_INFO_VALID_MASK: 0x80000000,
    });
    expect(VECTORING_INFO).toEqual({
      VECTORING_INFO_VECTOR_MASK: 0xff,
      VECTORING_INFO_TYPE_MASK: 0x700,
      VECTORING_INFO_DELIVER_CODE_MASK: 0x800,
      VECTORING_INFO_VALID_MASK: 0x80000000,
    });
    const types = layoutOf('VM_ENTRY_INTR_INFO_FIELD')!.entries.find((e) => e.name === 'Interruption type');
    expect(types && 'values' in types && Object.keys(types.values!).map(Number)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ]);
  });

  it('interruptibility (§1.8) and activity (§1.9)', () => {
    expect(GUEST_INTR_STATE).toEqual({
      GUEST_INTR_STATE_STI: 0x1,
      GUEST_INTR_STATE_MOV_SS: 0x2,
      GUEST_INTR_STATE_SMI: 0x4,
      GUEST_INTR_STATE_NMI: 0x8,
      GUEST_INTR_STATE_ENCLAVE_INTR: 0x10,
    });
    expect(GUEST_ACTIVITY).toEqual({
      GUEST_ACTIVITY_ACTIVE: 0,
      GUEST_ACTIVITY_HLT: 1,
      GUEST_ACTIVITY_SHUTDOWN: 2,
      GUEST_ACTIVITY_WAIT_SIPI: 3,
    });
  });

  it('exit reason (§1.10) and RFLAGS', () => {
    expect(EXIT_REASON_BITS).toEqual({
      VMX_EXIT_REASONS_SGX_ENCLAVE_MODE: 0x08000000,
      VMX_EXIT_REASONS_FAILED_VMENTRY: 0x80000000,
    });
    const reason = layoutOf('VM_EXIT_REASON')!.entries.map((e) => [e.name, entryBits(e)]);
    expect(reason).toEqual([
      ['Basic exit reason', [15, 0]],
      ['Bus lock detected', [26, 26]],
      ['Exit from enclave mode', [27, 27]],
      ['Pending MTF VM exit', [28, 28]],
      ['Exit from VMX root operation', [29, 29]],
      ['VM-entry failure', [31, 31]],
    ]);
    expect(X86_EFLAGS).toMatchObject({ X86_EFLAGS_TF: 0x100, X86_EFLAGS_IF: 0x200, X86_EFLAGS_RF: 0x10000 });
  });
});

describe('every layout', () => {
  it('lays out existing fields, once each', () => {
    const fields = LAYOUTS.flatMap((l) => l.fields);
    expect(new Set(fields).size).toBe(fields.length);
    for (const f of fields) expect(fieldByName(f), f).toBeDefined();
  });

  it('has masks that match the bit positions, inside the field, without overlaps', () => {
    for (const layout of LAYOUTS) {
      const width = widthInBits(fieldByName(layout.fields[0])!.width);
      let seen = 0n;
      for (const e of layout.entries) {
        const [hi, lo] = entryBits(e);
        const mask = (1n << BigInt(hi + 1)) - (1n << BigInt(lo));
        expect(BigInt(e.mask), `${layout.fields[0]} ${e.name}`).toBe(mask);
        expect(hi < width && lo >= 0 && hi >= lo).toBe(true);
        expect(seen & mask, `${layout.fields[0]} ${e.name} overlaps`).toBe(0n);
        seen |= mask;
        expect(e.section).toMatch(/^SDM Vol\. (1|3C) "/);
        expect(e.description.length).toBeGreaterThan(0);
      }
    }
  });

  it('has no default-1 bit among the defined bits of the pin-based controls', () => {
    const pin = layoutOf('PIN_BASED_VM_EXEC_CONTROL')!;
    expect(pin.entries.reduce((m, e) => m | e.mask, 0) & pin.defaultOne).toBe(0);
  });
});

describe('decodeField', () => {
  it('VM_ENTRY_INTR_INFO_FIELD 0x80000202: vector 2, type NMI, valid', () => {
    const d = decodeField('VM_ENTRY_INTR_INFO_FIELD', 0x80000202);
    expect(setBits(d)).toEqual({ Vector: 2, 'Interruption type': 2, Valid: 1 });
    expect(part(d, 'Interruption type').text).toBe('Interruption type = 2 (NMI)');
    expect(part(d, 'Deliver error code')).toMatchObject({ value: 0, set: false });
    expect(d.map((x) => x.bits[1])).toEqual([0, 8, 11, 31]);
  });

  it('VM_EXIT_INTR_INFO 0x80000B0E: #PF, hardware exception, error code valid', () => {
    const d = decodeField('VM_EXIT_INTR_INFO', 0x80000b0e);
    expect(setBits(d)).toEqual({ Vector: 14, 'Interruption type': 3, 'Error code valid': 1, Valid: 1 });
    expect(part(d, 'Vector').text).toBe('Vector = 14 (#PF Page fault)');
    expect(part(d, 'Interruption type').text).toBe('Interruption type = 3 (Hardware exception)');
    expect(part(d, 'NMI unblocking due to IRET').set).toBe(false);
  });

  it('VM_EXIT_INTR_INFO 0x80000030: acknowledged external interrupt, vector 0x30', () => {
    const d = decodeField('VM_EXIT_INTR_INFO', 0x80000030);
    expect(setBits(d)).toEqual({ Vector: 0x30, Valid: 1 });
    expect(part(d, 'Vector').text).toBe('Vector = 48 (0x30)');
    expect(part(d, 'Interruption type').text).toBe('Interruption type = 0 (External interrupt)');
  });

  it('IDT_VECTORING_INFO_FIELD names an NMI being delivered', () => {
    const d = decodeField('IDT_VECTORING_INFO_FIELD', 0x80000202);
    expect(setBits(d)).toEqual({ Vector: 2, 'Interruption type': 2, Valid: 1 });
  });

  it('GUEST_INTERRUPTIBILITY_INFO 0x9: blocking by STI and by NMI', () => {
    const d = decodeField('GUEST_INTERRUPTIBILITY_INFO', 0x9);
    expect(setBits(d)).toEqual({ 'Blocking by STI': 1, 'Blocking by NMI': 1 });
    expect(d.filter((x) => !x.set).map((x) => x.name)).toEqual([
      'Blocking by MOV SS',
      'Blocking by SMI',
      'Enclave interruption',
    ]);
  });

  it('VM_EXIT_REASON 0x80000021: VM-entry failure, invalid guest state', () => {
    const d = decodeField('VM_EXIT_REASON', 0x80000021);
    expect(setBits(d)).toEqual({ 'Basic exit reason': 33, 'VM-entry failure': 1 });
    expect(part(d, 'Basic exit reason').text).toBe(
      'Basic exit reason = 33 (VM-entry failure: invalid guest state)',
    );
  });

  it('GUEST_ACTIVITY_STATE and VM_INSTRUCTION_ERROR name their values', () => {
    expect(decodeField('GUEST_ACTIVITY_STATE', 1)[0].text).toBe('Activity state = 1 (HLT)');
    expect(decodeField('VM_INSTRUCTION_ERROR', 26)[0].text).toBe(
      'Error number = 26 (VM entry with events blocked by MOV SS)',
    );
    expect(decodeField('GUEST_ACTIVITY_STATE', 9)[0].text).toBe('Activity state = 9 (undefined value)');
  });

  it('shows control bits by name, and default-1 bits whether set or not', () => {
    const d = decodeField('PIN_BASED_VM_EXEC_CONTROL', 0x16 | PIN_BASED.PIN_BASED_NMI_EXITING | 0x20);
    expect(setBits(d)).toMatchObject({ 'NMI exiting': 1, 'Virtual NMIs': 1 });
    expect(d.filter((x) => x.kind === 'default1').map((x) => [x.bits[0], x.set])).toEqual([
      [1, true],
      [2, true],
      [4, true],
    ]);
    const cleared = decodeField('PIN_BASED_VM_EXEC_CONTROL', 0);
    expect(cleared.filter((x) => x.kind === 'default1').every((x) => !x.set)).toBe(true);
    expect(cleared.filter((x) => x.kind === 'reserved')).toEqual([]);
    expect(
      decodeField('CPU_BASED_VM_EXEC_CONTROL', CPU_BASED.CPU_BASED_HLT_EXITING).find((x) => x.set)?.name,
    ).toBe('HLT exiting');
  });

  it('flags set reserved bits, e.g. bit 12 of the VM-entry interruption information', () => {
    const d = decodeField('VM_ENTRY_INTR_INFO_FIELD', 0x80001202);
    expect(d.filter((x) => x.kind === 'reserved').map((x) => x.name)).toEqual(['Reserved bit 12']);
    expect(d.map((x) => x.bits[1])).toEqual([0, 8, 11, 12, 31]);
  });

  it('decodes RFLAGS and the exception bitmap', () => {
    expect(setBits(decodeField('GUEST_RFLAGS', 0x202))).toEqual({ 'Reserved (always 1)': 1, IF: 1 });
    expect(part(decodeField('GUEST_RFLAGS', 0x3000), 'IOPL').value).toBe(3);
    expect(Object.keys(setBits(decodeField('EXCEPTION_BITMAP', (1 << 14) | (1 << 1))))).toEqual([
      '1 #DB Debug',
      '14 #PF Page fault',
    ]);
  });

  it('gives a field without a layout as one value, 64-bit values exactly, truncated to the width', () => {
    expect(decodeField('GUEST_RIP', 0x401000)).toEqual([
      {
        name: 'GUEST_RIP',
        linuxName: 'GUEST_RIP',
        bits: [63, 0],
        value: 0x401000,
        set: true,
        text: 'GUEST_RIP = 0x401000',
        kind: 'defined',
      },
    ]);
    expect(decodeField('VMCS_LINK_POINTER', -1n)[0]).toMatchObject({
      value: 0xffffffffffffffffn,
      text: 'VMCS_LINK_POINTER = 0xFFFFFFFFFFFFFFFF',
    });
    expect(decodeField('VIRTUAL_PROCESSOR_ID', 0x12345)[0].value).toBe(0x2345);
    const all = decodeField('GUEST_INTERRUPTIBILITY_INFO', -1);
    expect(all.filter((x) => x.kind === 'defined' && x.set)).toHaveLength(5);
    expect(all.filter((x) => x.kind === 'reserved').map((x) => x.bits[0])).toEqual(
      Array.from({ length: 27 }, (_, i) => i + 5),
    );
  });

  it('rejects an unknown field with a suggestion', () => {
    expect(() => decodeField('GUEST_RIPP', 0)).toThrow(
      "unknown VMCS field 'GUEST_RIPP' (did you mean GUEST_RIP",
    );
  });
});
