import { describe, it, expect } from 'vitest';
import {
  ENTRY_FAIL,
  ENTRY_FAILURE_QUALIFICATIONS,
  EXCEPTION_VECTORS,
  EXIT_REASON,
  EXIT_REASONS,
  INTERRUPTION_TYPES,
  INTR_TYPE,
  VMXERR,
  VM_INSTRUCTION_ERRORS,
  exceptionLabel,
  exitReasonByCode,
  interruptionType,
  vmInstructionError,
  type VmxCode,
} from '../../../src/core/vmx';

function unique(list: readonly VmxCode[]) {
  expect(new Set(list.map((c) => c.code)).size).toBe(list.length);
  expect(new Set(list.map((c) => c.name)).size).toBe(list.length);
  for (const c of list) {
    expect(c.description.length, c.name).toBeGreaterThan(0);
    expect(c.section, c.name).toMatch(/^SDM Vol\. 3C? "/);
  }
}

describe('basic exit reasons (facts §1.10)', () => {
  it('has exactly the reasons of facts §1.10', () => {
    const facts = [
      ...Array.from({ length: 35 }, (_, i) => i),
      36,
      37,
      39,
      40,
      41,
      ...Array.from({ length: 22 }, (_, i) => 43 + i),
      74,
      75,
    ];
    expect(EXIT_REASONS.map((r) => r.code)).toEqual(facts);
    unique(EXIT_REASONS);
  });

  it('uses the Linux names', () => {
    expect(EXIT_REASON).toMatchObject({
      EXCEPTION_NMI: 0,
      EXTERNAL_INTERRUPT: 1,
      TRIPLE_FAULT: 2,
      INIT_SIGNAL: 3,
      INTERRUPT_WINDOW: 7,
      NMI_WINDOW: 8,
      HLT: 12,
      VMCALL: 18,
      INVALID_STATE: 33,
      MSR_LOAD_FAIL: 34,
      MONITOR_TRAP_FLAG: 37,
      MCE_DURING_VMENTRY: 41,
      PREEMPTION_TIMER: 52,
      BUS_LOCK: 74,
      NOTIFY: 75,
    });
    expect(exitReasonByCode(52)).toMatchObject({
      name: 'EXIT_REASON_PREEMPTION_TIMER',
      description: 'VMX-preemption timer expired',
    });
    expect(exitReasonByCode(33)?.description).toBe('VM-entry failure: invalid guest state');
    expect(exitReasonByCode(35)).toBeUndefined();
  });
});

describe('VM-entry failure qualifications', () => {
  it('are Linux enum vm_entry_failure_code', () => {
    expect(ENTRY_FAIL).toEqual({ DEFAULT: 0, PDPTE: 2, NMI: 3, VMCS_LINK_PTR: 4 });
    expect(ENTRY_FAILURE_QUALIFICATIONS.map((q) => q.name)).toEqual([
      'ENTRY_FAIL_DEFAULT',
      'ENTRY_FAIL_PDPTE',
      'ENTRY_FAIL_NMI',
      'ENTRY_FAIL_VMCS_LINK_PTR',
    ]);
    unique(ENTRY_FAILURE_QUALIFICATIONS);
  });
});

describe('VM-instruction error numbers', () => {
  it('cover 1-28 except the reserved 14, 21 and 27', () => {
    const expected = Array.from({ length: 28 }, (_, i) => i + 1).filter((n) => ![14, 21, 27].includes(n));
    expect(VM_INSTRUCTION_ERRORS.map((e) => e.code)).toEqual(expected);
    unique(VM_INSTRUCTION_ERRORS);
  });

  it('carry the SDM descriptions and Linux names', () => {
    expect(vmInstructionError(4)?.description).toBe('VMLAUNCH with non-clear VMCS');
    expect(vmInstructionError(5)?.description).toBe('VMRESUME with non-launched VMCS');
    expect(vmInstructionError(7)?.description).toBe('VM entry with invalid control field(s)');
    expect(vmInstructionError(8)?.description).toBe('VM entry with invalid host-state field(s)');
    expect(vmInstructionError(12)?.description).toBe('VMREAD/VMWRITE from/to unsupported VMCS component');
    expect(vmInstructionError(13)?.description).toBe('VMWRITE to read-only VMCS component');
    expect(vmInstructionError(26)).toMatchObject({
      name: 'VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS',
      description: 'VM entry with events blocked by MOV SS',
      section: 'SDM Vol. 3C "VM-Instruction Error Numbers"',
    });
    expect(VMXERR.VMLAUNCH_NONCLEAR_VMCS).toBe(4);
    expect(VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID).toBe(28);
    expect(vmInstructionError(14)).toBeUndefined();
  });
});

describe('interruption types and exception vectors', () => {
  it('has the eight interruption types', () => {
    expect(INTERRUPTION_TYPES.map((t) => t.code)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(INTR_TYPE).toEqual({
      EXT_INTR: 0,
      RESERVED: 1,
      NMI_INTR: 2,
      HARD_EXCEPTION: 3,
      SOFT_INTR: 4,
      PRIV_SW_EXCEPTION: 5,
      SOFT_EXCEPTION: 6,
      OTHER_EVENT: 7,
    });
    expect(interruptionType(2)?.description).toBe('NMI');
    unique(INTERRUPTION_TYPES);
  });

  it('names vectors 0-31 and knows which push an error code', () => {
    expect(EXCEPTION_VECTORS.map((e) => e.vector)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    const withCode = EXCEPTION_VECTORS.filter((e) => e.errorCode).map((e) => e.vector);
    expect(withCode).toEqual(expect.arrayContaining([8, 10, 11, 12, 13, 14, 17]));
    expect(exceptionLabel(14)).toBe('#PF Page fault');
    expect(exceptionLabel(15)).toBe('Reserved');
    expect(exceptionLabel(32)).toBeUndefined();
  });
});
