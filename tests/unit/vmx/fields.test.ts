import { describe, it, expect } from 'vitest';
import {
  VMCS_FIELDS,
  decodeEncoding,
  encodeField,
  fieldByEncoding,
  fieldByName,
  resolveFieldEncoding,
  resolveFieldName,
  suggestField,
  unknownFieldMessage,
} from '../../../src/core/vmx';

/** The table of facts §1.5, copied as written there. */
const FACTS_1_5: [string, number][] = [
  ['VIRTUAL_PROCESSOR_ID', 0x0000],
  ['POSTED_INTR_NV', 0x0002],
  ['GUEST_INTR_STATUS', 0x0810],
  ['TSC_OFFSET', 0x2010],
  ['POSTED_INTR_DESC_ADDR', 0x2016],
  ['TERTIARY_VM_EXEC_CONTROL', 0x2034],
  ['PIN_BASED_VM_EXEC_CONTROL', 0x4000],
  ['CPU_BASED_VM_EXEC_CONTROL', 0x4002],
  ['EXCEPTION_BITMAP', 0x4004],
  ['VM_EXIT_CONTROLS', 0x400c],
  ['VM_ENTRY_CONTROLS', 0x4012],
  ['VM_ENTRY_INTR_INFO_FIELD', 0x4016],
  ['VM_ENTRY_EXCEPTION_ERROR_CODE', 0x4018],
  ['VM_ENTRY_INSTRUCTION_LEN', 0x401a],
  ['TPR_THRESHOLD', 0x401c],
  ['SECONDARY_VM_EXEC_CONTROL', 0x401e],
  ['VM_INSTRUCTION_ERROR', 0x4400],
  ['VM_EXIT_REASON', 0x4402],
  ['VM_EXIT_INTR_INFO', 0x4404],
  ['VM_EXIT_INTR_ERROR_CODE', 0x4406],
  ['IDT_VECTORING_INFO_FIELD', 0x4408],
  ['IDT_VECTORING_ERROR_CODE', 0x440a],
  ['VM_EXIT_INSTRUCTION_LEN', 0x440c],
  ['VMX_INSTRUCTION_INFO', 0x440e],
  ['GUEST_INTERRUPTIBILITY_INFO', 0x4824],
  ['GUEST_ACTIVITY_STATE', 0x4826],
  ['GUEST_SMBASE', 0x4828],
  ['VMX_PREEMPTION_TIMER_VALUE', 0x482e],
  ['EXIT_QUALIFICATION', 0x6400],
  ['GUEST_RSP', 0x681c],
  ['GUEST_RIP', 0x681e],
  ['GUEST_RFLAGS', 0x6820],
  ['GUEST_PENDING_DBG_EXCEPTIONS', 0x6822],
];

/** Every field the brief asks for, beyond facts §1.5. */
const REQUIRED = [
  'GUEST_CR0',
  'GUEST_CR3',
  'GUEST_CR4',
  'GUEST_DR7',
  'GUEST_IA32_DEBUGCTL',
  'GUEST_IA32_EFER',
  'GUEST_GDTR_BASE',
  'GUEST_GDTR_LIMIT',
  'GUEST_IDTR_BASE',
  'GUEST_IDTR_LIMIT',
  'GUEST_SYSENTER_CS',
  'GUEST_SYSENTER_ESP',
  'GUEST_SYSENTER_EIP',
  'VMCS_LINK_POINTER',
  ...['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDTR', 'TR'].flatMap((s) =>
    ['SELECTOR', 'BASE', 'LIMIT', 'AR_BYTES'].map((p) => `GUEST_${s}_${p}`),
  ),
  'HOST_CR0',
  'HOST_CR3',
  'HOST_CR4',
  'HOST_FS_BASE',
  'HOST_GS_BASE',
  'HOST_TR_BASE',
  'HOST_GDTR_BASE',
  'HOST_IDTR_BASE',
  'HOST_RSP',
  'HOST_RIP',
  'HOST_IA32_EFER',
  'HOST_IA32_SYSENTER_CS',
  'HOST_IA32_SYSENTER_ESP',
  'HOST_IA32_SYSENTER_EIP',
  ...['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'TR'].map((s) => `HOST_${s}_SELECTOR`),
  'PAGE_FAULT_ERROR_CODE_MASK',
  'PAGE_FAULT_ERROR_CODE_MATCH',
  'CR3_TARGET_COUNT',
  'VM_EXIT_MSR_STORE_COUNT',
  'VM_EXIT_MSR_LOAD_COUNT',
  'VM_ENTRY_MSR_LOAD_COUNT',
  'TSC_MULTIPLIER',
  'CR0_GUEST_HOST_MASK',
  'CR4_GUEST_HOST_MASK',
  'CR0_READ_SHADOW',
  'CR4_READ_SHADOW',
  'VIRTUAL_APIC_PAGE_ADDR',
  'APIC_ACCESS_ADDR',
  'EPT_POINTER',
  'MSR_BITMAP',
  'IO_BITMAP_A',
  'IO_BITMAP_B',
  'EOI_EXIT_BITMAP0',
  'EOI_EXIT_BITMAP1',
  'EOI_EXIT_BITMAP2',
  'EOI_EXIT_BITMAP3',
  'GUEST_LINEAR_ADDRESS',
  'GUEST_PHYSICAL_ADDRESS',
];

describe('VMCS field table', () => {
  it.each(FACTS_1_5)('%s has the encoding of facts §1.5', (name, encoding) => {
    expect(fieldByName(name)?.encoding).toBe(encoding);
    expect(fieldByEncoding(encoding)?.name).toBe(name);
  });

  it('has every field the lab needs', () => {
    const missing = REQUIRED.filter((n) => !fieldByName(n));
    expect(missing).toEqual([]);
  });

  it('agrees with decodeEncoding on width and type for every field, read-only = exit-info', () => {
    for (const f of VMCS_FIELDS) {
      const parts = decodeEncoding(f.encoding);
      expect(parts, f.name).toBeDefined();
      expect({ name: f.name, width: f.width, type: f.type, access: 'full' }).toEqual({
        name: f.name,
        width: parts!.width,
        type: parts!.type,
        access: parts!.access,
      });
      expect(f.readOnly, f.name).toBe(f.type === 'exit-info');
      expect(encodeField(parts!)).toBe(f.encoding);
    }
  });

  it('has unique names and unique encodings', () => {
    expect(new Set(VMCS_FIELDS.map((f) => f.name)).size).toBe(VMCS_FIELDS.length);
    expect(new Set(VMCS_FIELDS.map((f) => f.encoding)).size).toBe(VMCS_FIELDS.length);
  });

  it('names are Linux-style identifiers and every field has a description and an SDM section', () => {
    for (const f of VMCS_FIELDS) {
      expect(f.name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(f.description.length, f.name).toBeGreaterThan(0);
      expect(f.section, f.name).toMatch(/^SDM Vol\. 3C ".+"$/);
    }
  });

  it('has exactly the read-only exit-information fields of the brief', () => {
    expect(
      VMCS_FIELDS.filter((f) => f.readOnly)
        .map((f) => f.name)
        .sort(),
    ).toEqual(
      [
        'VM_INSTRUCTION_ERROR',
        'VM_EXIT_REASON',
        'VM_EXIT_INTR_INFO',
        'VM_EXIT_INTR_ERROR_CODE',
        'IDT_VECTORING_INFO_FIELD',
        'IDT_VECTORING_ERROR_CODE',
        'VM_EXIT_INSTRUCTION_LEN',
        'VMX_INSTRUCTION_INFO',
        'EXIT_QUALIFICATION',
        'GUEST_LINEAR_ADDRESS',
        'GUEST_PHYSICAL_ADDRESS',
      ].sort(),
    );
  });
});

describe('decodeEncoding', () => {
  it('reads type from bits 11:10 and width from bits 14:13 (facts §1.5 examples)', () => {
    expect(decodeEncoding(0x4016)).toEqual({ access: 'full', index: 0x0b, type: 'control', width: 32 });
    expect(decodeEncoding(0x4404)).toEqual({ access: 'full', index: 0x02, type: 'exit-info', width: 32 });
    expect(decodeEncoding(0x4824)).toEqual({ access: 'full', index: 0x12, type: 'guest', width: 32 });
    expect(decodeEncoding(0x0000)).toMatchObject({ type: 'control', width: 16 });
    expect(decodeEncoding(0x2800)).toMatchObject({ type: 'guest', width: 64 });
    expect(decodeEncoding(0x6c16)).toMatchObject({ type: 'host', width: 'natural' });
    expect(decodeEncoding(0x2011)).toMatchObject({ access: 'high', type: 'control', width: 64 });
  });

  it('rejects reserved bits, high access to a field that is not 64-bit, and non-integers', () => {
    expect(decodeEncoding(0x1000)).toBeUndefined(); // bit 12
    expect(decodeEncoding(0x8000)).toBeUndefined(); // bit 15
    expect(decodeEncoding(0x681f)).toBeUndefined(); // high half of natural-width GUEST_RIP
    expect(decodeEncoding(0x4017)).toBeUndefined(); // high half of a 32-bit field
    expect(decodeEncoding(-1)).toBeUndefined();
    expect(decodeEncoding(1.5)).toBeUndefined();
    expect(decodeEncoding(2 ** 32)).toBeUndefined();
  });
});

describe('lookups', () => {
  it('are case-sensitive', () => {
    expect(fieldByName('GUEST_RIP')?.encoding).toBe(0x681e);
    expect(fieldByName('guest_rip')).toBeUndefined();
  });

  it('do not treat a high-half encoding as a field', () => {
    expect(fieldByEncoding(0x2011)).toBeUndefined();
  });

  it('resolve the _HIGH spellings and encodings of 64-bit fields only', () => {
    expect(resolveFieldName('TSC_OFFSET_HIGH')).toEqual({ field: fieldByName('TSC_OFFSET'), high: true });
    expect(resolveFieldName('TSC_OFFSET')).toEqual({ field: fieldByName('TSC_OFFSET'), high: false });
    expect(resolveFieldName('GUEST_RIP_HIGH')).toBeUndefined();
    expect(resolveFieldName('NOPE_HIGH')).toBeUndefined();
    expect(resolveFieldEncoding(0x2011)).toEqual({ field: fieldByName('TSC_OFFSET'), high: true });
    expect(resolveFieldEncoding(0x4016)).toEqual({
      field: fieldByName('VM_ENTRY_INTR_INFO_FIELD'),
      high: false,
    });
    expect(resolveFieldEncoding(0x681f)).toBeUndefined();
    expect(resolveFieldEncoding(0x4bfe)).toBeUndefined(); // well formed, not a modelled component
  });
});

describe('suggestField', () => {
  it('finds GUEST_RIP for GUEST_RIPP', () => {
    expect(suggestField('GUEST_RIPP')[0]).toBe('GUEST_RIP');
    expect(unknownFieldMessage('GUEST_RIPP')).toMatch(
      /^unknown VMCS field 'GUEST_RIPP' \(did you mean GUEST_RIP\b/,
    );
  });

  it('finds the name in another case, other spellings, and names containing the word', () => {
    expect(suggestField('guest_rip')[0]).toBe('GUEST_RIP');
    expect(suggestField('VM_ENTRY_INTR_INFO')[0]).toBe('VM_ENTRY_INTR_INFO_FIELD');
    expect(suggestField('EXI_INTR_INFO')[0]).toBe('VM_EXIT_INTR_INFO');
    expect(suggestField('GUEST_ACTV_STATE')[0]).toBe('GUEST_ACTIVITY_STATE');
    expect(suggestField('GUEST_INTERRUPTIBILITY_STATE')[0]).toBe('GUEST_INTERRUPTIBILITY_INFO');
    expect(suggestField('PREEMPTION_TIMER_VALUE')[0]).toBe('VMX_PREEMPTION_TIMER_VALUE');
    expect(suggestField('RIP')).toEqual(expect.arrayContaining(['GUEST_RIP', 'HOST_RIP']));
  });

  it('suggests nothing for a name far from every field', () => {
    expect(suggestField('XYZZY')).toEqual([]);
    expect(suggestField('')).toEqual([]);
    expect(unknownFieldMessage('XYZZY')).toBe("unknown VMCS field 'XYZZY'");
  });
});
