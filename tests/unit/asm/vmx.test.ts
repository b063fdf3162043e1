import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { OP_NAMES, Op, VMX_CONSTANTS, vmxConstant, type Instr } from '../../../src/core/asm';
import {
  CPU_BASED,
  EXIT_REASON,
  GUEST_INTR_STATE,
  INTR_INFO,
  LAYOUTS,
  PIN_BASED,
  VM_ENTRY,
  VM_EXIT,
  VMCS_FIELDS,
} from '../../../src/core/vmx';
import { errorList, one, program } from './helpers';

const reg = (r: number) => ({ k: 0, reg: r, size: 8 });
const imm = (lo: number, hi = 0) => ({ k: 1, lo, hi });
const mem = (base: number, disp: number) => ({ k: 2, base, disp, size: 8 });

function shape(i: Instr) {
  return { op: i.op, a: i.a, b: i.b, len: i.len };
}

describe('ops', () => {
  it('are appended after LEA without renumbering', () => {
    expect([
      Op.LEA,
      Op.CPUID,
      Op.LIDT,
      Op.VMXON,
      Op.VMXOFF,
      Op.VMCLEAR,
      Op.VMPTRLD,
      Op.VMLAUNCH,
      Op.VMRESUME,
      Op.VMREAD,
      Op.VMWRITE,
      Op.VMCALL,
    ]).toEqual([35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46]);
    expect([OP_NAMES[Op.VMLAUNCH], OP_NAMES[Op.CPUID], OP_NAMES[Op.MOV_SS]]).toEqual([
      'vmlaunch',
      'cpuid',
      'mov ss',
    ]);
  });
});

describe('operand-less VMX instructions and cpuid', () => {
  it.each([
    ['vmlaunch', Op.VMLAUNCH, 3], // 0F 01 C2
    ['vmresume', Op.VMRESUME, 3], // 0F 01 C3
    ['vmxoff', Op.VMXOFF, 3], // 0F 01 C4
    ['vmcall', Op.VMCALL, 3], // 0F 01 C1
    ['cpuid', Op.CPUID, 2], // 0F A2
  ])('%s', (src, op, len) => {
    expect(shape(one(src))).toEqual({ op, a: null, b: null, len });
    expect(one(src.toUpperCase()).op).toBe(op);
  });
});

describe('vmxon, vmclear, vmptrld [mem]', () => {
  it('take a qword memory operand holding the physical address of the region', () => {
    const p = program('vmxon [p]\nvmclear qword [p]\nvmptrld qword ptr [rbx+8]\np: .dq 0x3000');
    expect(p.instrs.map(shape)).toEqual([
      { op: Op.VMXON, a: mem(-1, p.labels.p), b: null, len: 8 }, // F3 0F C7 /6, RIP-relative
      { op: Op.VMCLEAR, a: mem(-1, p.labels.p), b: null, len: 8 }, // 66 0F C7 /6
      { op: Op.VMPTRLD, a: mem(3, 8), b: null, len: 4 }, // 0F C7 /6
    ]);
  });
  it('are qword even at a label that marks smaller data', () => {
    const p = program('vmptrld [d]\nd: .dd 0');
    expect(p.instrs[0].a).toEqual(mem(-1, p.labels.d));
  });
  it.each([
    ['vmxon [rbx]', 4],
    ['vmxon [r8]', 5],
    ['vmxon [rsp+8]', 6],
    ['vmxon [label]', 8],
    ['vmclear [rbx]', 4],
    ['vmclear [r13]', 6],
    ['vmclear [label]', 8],
    ['vmptrld [rbx]', 3],
    ['vmptrld [r12+0x100]', 9],
    ['vmptrld [label]', 7],
  ])('%s is %i bytes', (src, len) => {
    expect(one(src).len).toBe(len);
  });
});

describe('vmread DST, FIELD', () => {
  it('takes r64, r64 (0F 78 /r): a = destination, b = the register holding the encoding', () => {
    expect(shape(one('vmread rax, rbx'))).toEqual({ op: Op.VMREAD, a: reg(0), b: reg(3), len: 3 });
  });
  it('takes qword memory as the destination', () => {
    expect(shape(one('vmread [rbx], rax'))).toEqual({ op: Op.VMREAD, a: mem(3, 0), b: reg(0), len: 3 });
    expect(shape(one('vmread qword [rbx+8], rax'))).toEqual({
      op: Op.VMREAD,
      a: mem(3, 8),
      b: reg(0),
      len: 4,
    });
  });
  it('takes a field name: b = an immediate holding its encoding, the length of the register form', () => {
    expect(shape(one('vmread rax, VM_EXIT_REASON'))).toEqual({
      op: Op.VMREAD,
      a: reg(0),
      b: imm(0x4402),
      len: 3,
    });
    expect(shape(one('vmread r9, GUEST_RIP'))).toEqual({ op: Op.VMREAD, a: reg(9), b: imm(0x681e), len: 4 });
    const p = program('vmread [result], EXIT_QUALIFICATION\nresult: .dq 0');
    expect(shape(p.instrs[0])).toEqual({
      op: Op.VMREAD,
      a: mem(-1, p.labels.result),
      b: imm(0x6400),
      len: 7,
    });
    expect(one('vmread rax, VM_EXIT_REASON').text).toBe('vmread rax, VM_EXIT_REASON');
  });
  it.each([
    ['vmread rax, rbx', 3],
    ['vmread r8, rax', 4],
    ['vmread rax, r9', 4],
    ['vmread r8, r9', 4],
    ['vmread [rbx], rax', 3],
    ['vmread [rbx], r10', 4],
    ['vmread [r12+8], rax', 6],
    ['vmread [label], rcx', 7],
    ['vmread rax, VM_EXIT_REASON', 3],
    ['vmread r15, VM_EXIT_REASON', 4],
    ['vmread [r8], VM_EXIT_REASON', 4],
    ['vmread [rsp+0x200], GUEST_RSP', 8],
  ])('%s is %i bytes', (src, len) => {
    expect(one(src).len).toBe(len);
  });
});

describe('vmwrite FIELD, SRC', () => {
  it('takes r64, r64 and r64, mem (0F 79 /r): a = the field register, b = the source', () => {
    expect(shape(one('vmwrite rax, rbx'))).toEqual({ op: Op.VMWRITE, a: reg(0), b: reg(3), len: 3 });
    expect(shape(one('vmwrite rdx, [rsi]'))).toEqual({ op: Op.VMWRITE, a: reg(2), b: mem(6, 0), len: 3 });
  });
  it('takes a field name as a = an immediate holding the encoding', () => {
    expect(shape(one('vmwrite GUEST_RSP, rcx'))).toEqual({
      op: Op.VMWRITE,
      a: imm(0x681c),
      b: reg(1),
      len: 3,
    });
    expect(shape(one('vmwrite HOST_RIP, [r13]'))).toEqual({
      op: Op.VMWRITE,
      a: imm(0x6c16),
      b: { k: 2, base: 13, disp: 0, size: 8 },
      len: 5,
    });
  });
  it('takes an immediate source (lab shorthand): any 64-bit value, labels and constants included', () => {
    const p = program(
      [
        'vmwrite GUEST_RIP, guest',
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'vmwrite TSC_OFFSET, 0xffff_ffff_ffff_fff0',
        'vmwrite rax, 5',
        'vmwrite r8, -1',
        'guest: hlt',
      ].join('\n'),
    );
    expect(p.instrs.slice(0, 5).map(shape)).toEqual([
      { op: Op.VMWRITE, a: imm(0x681e), b: imm(p.labels.guest), len: 3 },
      { op: Op.VMWRITE, a: imm(0x4000), b: imm(0x28), len: 3 },
      { op: Op.VMWRITE, a: imm(0x2010), b: imm(0xfffffff0, 0xffffffff), len: 3 },
      { op: Op.VMWRITE, a: reg(0), b: imm(5), len: 3 },
      { op: Op.VMWRITE, a: reg(8), b: imm(0xffffffff, 0xffffffff), len: 4 },
    ]);
    expect(p.instrs[1].text).toBe(
      'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING|PIN_BASED_VIRTUAL_NMIS',
    );
  });
  it.each([
    ['vmwrite rax, rbx', 3],
    ['vmwrite r8, rax', 4],
    ['vmwrite rax, r15', 4],
    ['vmwrite rax, [rbx]', 3],
    ['vmwrite rdx, [label]', 7],
    ['vmwrite r11, [rsp+0x200]', 9],
    ['vmwrite GUEST_RIP, rax', 3],
    ['vmwrite GUEST_RIP, r9', 4],
    ['vmwrite GUEST_RIP, [rbx+8]', 4],
    ['vmwrite GUEST_RIP, 0x123456789', 3],
    ['vmwrite r12, 7', 4],
  ])('%s is %i bytes', (src, len) => {
    expect(one(src).len).toBe(len);
  });
});

describe('field names', () => {
  it('resolve every field of the table to its encoding', () => {
    for (const f of VMCS_FIELDS) {
      expect(one(`vmread rax, ${f.name}`).b).toEqual(imm(f.encoding));
      expect(one(`vmwrite ${f.name}, rax`).a).toEqual(imm(f.encoding));
    }
  });
  it('accept _HIGH for the upper half of a 64-bit field (encoding + 1)', () => {
    expect(one('vmread rax, TSC_OFFSET_HIGH').b).toEqual(imm(0x2011));
    expect(one('vmwrite VMCS_LINK_POINTER_HIGH, -1').a).toEqual(imm(0x2801));
  });
  it('reject _HIGH for a field that is not 64 bits wide', () => {
    expect(errorList('vmread rax, GUEST_RIP_HIGH')).toEqual([
      "1:13 unknown VMCS field 'GUEST_RIP_HIGH' (GUEST_RIP is natural-width: only 64-bit fields have a _HIGH half)",
    ]);
    expect(errorList('vmwrite VM_EXIT_CONTROLS_HIGH, 0')).toEqual([
      "1:9 unknown VMCS field 'VM_EXIT_CONTROLS_HIGH' (VM_EXIT_CONTROLS is 32-bit: only 64-bit fields have a _HIGH half)",
    ]);
    expect(errorList('vmread rax, GUEST_RIPP_HIGH')[0]).toMatch(/^1:13 unknown VMCS field 'GUEST_RIPP_HIGH'/);
  });
  it('report an unknown name at its column with the table suggestions', () => {
    expect(errorList('nop\n  vmread rax, GUEST_RIPP')).toEqual([
      "2:15 unknown VMCS field 'GUEST_RIPP' (did you mean GUEST_RIP or GUEST_RSP?)",
    ]);
    expect(errorList('vmwrite EXI_REASON, rax')).toEqual([
      "1:9 unknown VMCS field 'EXI_REASON' (did you mean VM_EXIT_REASON?)",
    ]);
    expect(errorList('vmread rax, vm_exit_reason')).toEqual([
      "1:13 unknown VMCS field 'vm_exit_reason' (did you mean VM_EXIT_REASON?)",
    ]);
    expect(errorList('vmread rax, ZZZZZZZZZZZZZZZZZZZZ')).toEqual([
      "1:13 unknown VMCS field 'ZZZZZZZZZZZZZZZZZZZZ'",
    ]);
  });
  it('are only names of fields: not other constants, labels or numbers', () => {
    expect(errorList('vmread rax, PIN_BASED_NMI_EXITING')[0]).toMatch(
      /^1:13 unknown VMCS field 'PIN_BASED_NMI_EXITING'/,
    );
    expect(errorList('vmread rax, here\nhere: nop')[0]).toMatch(/^1:13 unknown VMCS field 'here'/);
    expect(errorList('vmread rax, 0x4402')).toEqual([
      "1:13 'vmread' needs a VMCS field name or a 64-bit register holding its encoding, found '0x4402'",
    ]);
    expect(errorList('vmwrite GUEST_RIP+8, rax')).toEqual([
      "1:9 'vmwrite' needs a VMCS field name or a 64-bit register holding its encoding, found 'GUEST_RIP+8'",
    ]);
    expect(errorList('vmread rax, -GUEST_RIP')).toEqual([
      "1:13 'vmread' needs a VMCS field name or a 64-bit register holding its encoding, found '-GUEST_RIP'",
    ]);
  });
});

describe('wrong forms', () => {
  it.each([
    ['vmread eax, VM_EXIT_REASON', ["1:8 'vmread' needs a 64-bit register, not 'eax'"]],
    ['vmread rax, ebx', ["1:13 'vmread' needs a 64-bit register, not 'ebx'"]],
    ['vmwrite GUEST_RIP, eax', ["1:20 'vmwrite' needs a 64-bit register, not 'eax'"]],
    ['vmwrite ecx, rax', ["1:9 'vmwrite' needs a 64-bit register, not 'ecx'"]],
    ['vmread dword [rbx], rax', ["1:8 'vmread' needs a qword memory operand"]],
    ['vmwrite GUEST_RIP, dword [rbx]', ["1:20 'vmwrite' needs a qword memory operand"]],
    ['vmread VM_EXIT_REASON, rax', ["1:8 'vmread' does not take (imm, reg)"]],
    ['vmread [rbx], [rcx]', ["1:15 'vmread' does not take (mem, mem)"]],
    ['vmwrite [rbx], rax', ["1:9 'vmwrite' does not take (mem, reg)"]],
    ['vmread rax', ["1:1 'vmread' does not take (reg)"]],
    ['vmwrite', ["1:1 'vmwrite' needs 2 operands"]],
    ['vmxon rax', ["1:7 'vmxon' does not take (reg)"]],
    ['vmxon 0x3000', ["1:7 'vmxon' does not take (imm)"]],
    ['vmxon', ["1:1 'vmxon' needs 1 operand"]],
    ['vmclear dword [rbx]', ["1:9 'vmclear' needs a qword memory operand"]],
    ['vmptrld [rbx], rax', ["1:16 'vmptrld' does not take (mem, reg)"]],
    ['vmlaunch rax', ["1:10 'vmlaunch' does not take (reg)"]],
    ['cpuid 1', ["1:7 'cpuid' does not take (imm)"]],
    ['vmread rax, rxx', ["1:13 unknown register 'rxx'"]],
    [
      'vmread eax, GUEST_RIPP',
      [
        "1:8 'vmread' needs a 64-bit register, not 'eax'",
        "1:13 unknown VMCS field 'GUEST_RIPP' (did you mean GUEST_RIP or GUEST_RSP?)",
      ],
    ],
    ['vmcall: nop', ["1:1 'vmcall' is an instruction name and cannot be a label"]],
  ] as [string, string[]][])('%j', (src, expected) => {
    expect(errorList(src)).toEqual(expected);
  });
});

describe('constants', () => {
  it('are numbers in any expression', () => {
    const p = program(
      [
        'mov eax, PIN_BASED_NMI_EXITING',
        'mov ecx, VM_EXIT_REASON',
        'cmp rax, EXIT_REASON_PREEMPTION_TIMER',
        'mov rbx, TSC_OFFSET_HIGH+0',
        'assert rax == EXIT_REASON_VMCALL',
        'x: .dd INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2',
        '.zero GUEST_INTR_STATE_NMI',
        'y: nop',
      ].join('\n'),
    );
    expect(p.instrs.slice(0, 5).map((i) => i.b)).toEqual([
      imm(8),
      imm(0x4402),
      imm(52),
      imm(0x2011),
      imm(18),
    ]);
    expect(Array.from(p.image.slice(p.labels.x - p.origin, p.labels.x - p.origin + 4))).toEqual([
      0x02, 0x02, 0x00, 0x80,
    ]);
    expect(p.labels.y - p.labels.x).toBe(4 + 8);
  });
  it('combine with | (bitwise or, below + and -)', () => {
    const p = program(
      [
        'mov eax, PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'mov ebx, CPU_BASED_INTR_WINDOW_EXITING|CPU_BASED_NMI_WINDOW_EXITING',
        'mov ecx, 1 | 1 + 1', // 1 | (1 + 1) = 3, not (1 | 1) + 1 = 2
        'mov rdx, -1 | 0',
        'mov rsi, 0x8000_0000 | 0x1_0000_0000',
        'mov rdi, lbl | 3',
        'lbl: nop',
      ].join('\n'),
    );
    expect(p.instrs.slice(0, 6).map((i) => i.b)).toEqual([
      imm(PIN_BASED.PIN_BASED_EXT_INTR_MASK | 8 | 0x20),
      imm(CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING | CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING),
      imm(3),
      imm(0xffffffff, 0xffffffff),
      imm(0x80000000, 1),
      imm(p.labels.lbl | 3),
    ]);
  });
  it('are case-sensitive, like labels', () => {
    expect(errorList('mov rax, pin_based_nmi_exiting')).toEqual([
      "1:10 undefined label 'pin_based_nmi_exiting'",
    ]);
    expect(program('pin_based_nmi_exiting: nop').labels.pin_based_nmi_exiting).toBe(0x1000);
  });
  it('cannot be label names', () => {
    expect(errorList('PIN_BASED_NMI_EXITING: nop')).toEqual([
      "1:1 'PIN_BASED_NMI_EXITING' is a VMCS/VMX constant and cannot be a label",
    ]);
    expect(errorList('nop\nGUEST_RIP: nop')).toEqual([
      "2:1 'GUEST_RIP' is a VMCS/VMX constant and cannot be a label",
    ]);
  });
  it('are not gate handlers, and | is not allowed after a base register', () => {
    expect(errorList('.intgate 1, VM_EXIT_REASON\nnop')).toEqual([
      "1:13 expected a label as the gate's handler, found 'VM_EXIT_REASON'",
    ]);
    expect(errorList('mov rax, [rbx+8|1]')).toEqual([
      "1:16 '|' cannot follow a base register: write the displacement as a sum",
    ]);
    expect(errorList('mov rax, 1 |')).toEqual(['1:13 expected a number or a label, found end of line']);
    expect(errorList('mov rax, | 1')).toEqual(["1:10 expected an operand, found '|'"]);
  });
});

describe('the constant table (VMX_CONSTANTS)', () => {
  const byName = new Map(VMX_CONSTANTS.map((c) => [c.name, c]));
  it('has unique names', () => {
    expect(byName.size).toBe(VMX_CONSTANTS.length);
  });
  it('has every VMCS field, and the _HIGH encoding of each 64-bit field', () => {
    for (const f of VMCS_FIELDS) {
      expect(vmxConstant(f.name)).toMatchObject({ value: f.encoding, kind: 'field' });
      if (f.width === 64) expect(vmxConstant(`${f.name}_HIGH`)).toMatchObject({ value: f.encoding + 1 });
      else expect(vmxConstant(`${f.name}_HIGH`)).toBeUndefined();
    }
  });
  it('has every bit of the mask objects, with its mask', () => {
    for (const m of [PIN_BASED, CPU_BASED, VM_EXIT, VM_ENTRY, INTR_INFO, GUEST_INTR_STATE]) {
      for (const [name, value] of Object.entries(m)) {
        expect(vmxConstant(name)).toMatchObject({ value, kind: 'bit' });
      }
    }
    expect(vmxConstant('VM_EXIT_ACK_INTR_ON_EXIT')?.value).toBe(0x8000);
    expect(vmxConstant('INTR_INFO_VALID_MASK')?.value).toBe(0x80000000);
  });
  it('agrees with every Linux name in the layouts (old names included)', () => {
    for (const layout of LAYOUTS) {
      for (const e of layout.entries) {
        if (e.linuxName) expect(vmxConstant(e.linuxName)?.value).toBe(e.mask);
        for (const old of 'oldLinuxNames' in e ? (e.oldLinuxNames ?? []) : []) {
          expect(vmxConstant(old)?.value).toBe(e.mask);
        }
      }
    }
    expect(vmxConstant('CPU_BASED_VIRTUAL_INTR_PENDING')?.value).toBe(4);
  });
  it('has the numbers VMX reports: exit reasons, errors, types (shifted as in Linux), activity states', () => {
    for (const [name, code] of Object.entries(EXIT_REASON)) {
      expect(vmxConstant(`EXIT_REASON_${name}`)).toMatchObject({ value: code, kind: 'code' });
    }
    expect(vmxConstant('VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS')?.value).toBe(26);
    expect(vmxConstant('INTR_TYPE_NMI_INTR')?.value).toBe(0x200);
    expect(vmxConstant('INTR_TYPE_HARD_EXCEPTION')?.value).toBe(0x300);
    expect(vmxConstant('ENTRY_FAIL_NMI')?.value).toBe(3);
    expect(vmxConstant('GUEST_ACTIVITY_HLT')?.value).toBe(1);
  });
  it('describes each constant', () => {
    expect(VMX_CONSTANTS.every((c) => c.description.length > 0)).toBe(true);
    expect(vmxConstant('PIN_BASED_NMI_EXITING')?.description).toBe('NMI exiting (PIN_BASED_VM_EXEC_CONTROL)');
    expect(vmxConstant('nope')).toBeUndefined();
    expect(vmxConstant('constructor')).toBeUndefined();
  });
});

describe('the examples of docs/assembly.md', () => {
  const doc = readFileSync(new URL('../../../docs/assembly.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```asm\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = (marker: string) => {
    const found = blocks.filter((b) => b.includes(marker));
    expect(found.length).toBe(1);
    return found[0];
  };
  it('assembles the kvm-unit-tests style VMX sequence', () => {
    const p = program(block('vmlaunch'));
    const ops = p.instrs.map((i) => i.op);
    for (const op of [Op.VMXON, Op.VMCLEAR, Op.VMPTRLD, Op.VMWRITE, Op.VMLAUNCH, Op.VMREAD, Op.VMCALL]) {
      expect(ops).toContain(op);
    }
    const launch = p.instrs.find((i) => i.op === Op.VMLAUNCH);
    expect(launch?.len).toBe(3);
    const guestRip = p.instrs.find((i) => i.text === 'vmwrite GUEST_RIP, guest');
    expect(guestRip?.b).toEqual(imm(p.labels.guest));
    expect(p.labels.vmcs % 4096).toBe(0);
  });
  it('assembles the IDT example: guest_idt is the initial table, __idt holds vector 2', () => {
    const p = program(block('.idt guest_idt'));
    expect(p.idtTables.map((t) => t.name)).toEqual(['guest_idt', '__idt']);
    expect(p.idtBase).toBe(p.labels.guest_idt);
    expect(p.idt[32]?.label).toBe('timer_isr');
    expect(p.idtTables[1].gates[2]?.label).toBe('nmi_handler');
  });
  it('assembles the constants example', () => {
    const p = program(block('inject:'));
    const at = p.labels.inject - p.origin;
    expect(Array.from(p.image.slice(at, at + 4))).toEqual([13, 0x0b, 0, 0x80]); // 0x80000B0D
  });
});
