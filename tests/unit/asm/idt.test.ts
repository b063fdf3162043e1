import { describe, it, expect } from 'vitest';
import {
  DEFAULT_IDT,
  GATE_TYPE,
  IDT_SIZE,
  Op,
  gateDescriptor,
  idtrPseudoDescriptor,
  type Program,
} from '../../../src/core/asm';
import { errorList, program } from './helpers';

/** The 16 bytes of the descriptor for `vector` in the table at `base`. */
function descriptor(p: Program, base: number, vector: number): number[] {
  const at = base - p.origin + 16 * vector;
  return Array.from(p.image.slice(at, at + 16));
}

/** The bytes at a label. */
function bytesAt(p: Program, label: string, n: number): number[] {
  const at = p.labels[label] - p.origin;
  return Array.from(p.image.slice(at, at + n));
}

const zeros = (n: number) => new Array<number>(n).fill(0);

describe('gate descriptors in memory (SDM "64-Bit IDT Gate Descriptors")', () => {
  it('writes an interrupt gate: offset 15:0, selector 8, IST 0, type 0x8E, offset 31:16, 63:32, zero', () => {
    const p = program('.intgate 32, h\nnop\nh: iretq'); // h = 0x1001
    expect(descriptor(p, p.idtBase, 32)).toEqual([
      0x01, 0x10, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]); // prettier-ignore
  });
  it('writes a trap gate with type byte 0x8F', () => {
    const p = program('.trapgate 3, h\nh: iretq');
    expect(descriptor(p, p.idtBase, 3)).toEqual([
      0x00, 0x10, 0x08, 0x00, 0x00, 0x8f, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]); // prettier-ignore
  });
  it('splits a handler address above 64 KiB into offset 15:0 and 31:16', () => {
    const p = program('.intgate 0xff, h\n.trapgate 0, h\nnop\nh: iretq', 0xfedc0000); // h = 0xfedc0001
    expect(descriptor(p, p.idtBase, 255)).toEqual([
      0x01, 0x00, 0x08, 0x00, 0x00, 0x8e, 0xdc, 0xfe,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]); // prettier-ignore
    expect(descriptor(p, p.idtBase, 0)).toEqual([
      0x01, 0x00, 0x08, 0x00, 0x00, 0x8f, 0xdc, 0xfe,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]); // prettier-ignore
  });
  it('lays out a 64-bit offset as 15:0, 31:16 and 63:32 (gateDescriptor)', () => {
    expect(gateDescriptor('interrupt', 0x123456789abcdef0n)).toEqual([
      0xf0, 0xde, 0x08, 0x00, 0x00, 0x8e, 0xbc, 0x9a,
      0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00,
    ]); // prettier-ignore
    expect(gateDescriptor('trap', 0xffffffff)[5]).toBe(GATE_TYPE.trap);
  });
  it('leaves vectors without a gate as 16 zero bytes (not present)', () => {
    const p = program('.intgate 1, h\nh: iretq');
    expect(descriptor(p, p.idtBase, 0)).toEqual(zeros(16));
    expect(descriptor(p, p.idtBase, 2)).toEqual(zeros(16));
    const table = Array.from(p.image.slice(p.idtBase - p.origin, p.idtBase - p.origin + IDT_SIZE));
    expect(table.flatMap((b, i) => (b !== 0 ? [i] : []))).toEqual([16 + 1, 16 + 2, 16 + 5]); // 0x10, 8, 0x8E
  });
});

describe('the default table', () => {
  it('holds the gates of a program without .idt, 16-byte aligned at the end of the image', () => {
    const p = program('.intgate 32, h\n.trapgate 3, h\nh: iretq\nx: .db 1'); // code and data end at 0x1003
    expect(p.labels[DEFAULT_IDT]).toBe(0x1010);
    expect(p.idtBase).toBe(0x1010);
    expect(p.end).toBe(0x1010 + IDT_SIZE);
    expect(p.idtTables.length).toBe(1);
    const [t] = p.idtTables;
    expect([t.name, t.base]).toEqual(['__idt', 0x1010]);
    expect(t.gates[32]).toEqual({ vector: 32, kind: 'interrupt', target: 0x1000, label: 'h', line: 1 });
    expect(t.gates[3]?.kind).toBe('trap');
    expect(p.idt).toBe(t.gates);
    expect(bytesAt(p, 'x', 16)).toEqual([1, ...zeros(15)]); // padding up to the table is zero
  });
  it('is emitted, empty, when the program has neither gates nor .idt', () => {
    const p = program('hlt');
    expect(p.idtTables.map((t) => [t.name, t.base])).toEqual([['__idt', 0x1010]]);
    expect(p.idt.every((g) => g === null)).toBe(true);
    expect(Array.from(p.image.slice(0x10)).every((b) => b === 0)).toBe(true);
    expect(p.image.length).toBe(0x10 + IDT_SIZE);
  });
  it('is not emitted when every gate follows an .idt', () => {
    const p = program('.idt t\n.intgate 32, h\nh: iretq');
    expect(p.idtTables.map((t) => t.name)).toEqual(['t']);
    expect(p.labels.__idt).toBeUndefined();
    expect(p.end).toBe(p.labels.h + 2);
  });
  it('is emitted after the other tables when gates come before the first .idt', () => {
    const p = program('.intgate 3, h\n.idt t\n.intgate 32, h\nh: iretq');
    expect(p.idtTables.map((t) => [t.name, t.base])).toEqual([
      ['t', 0x1000],
      ['__idt', 0x2010],
    ]);
    expect(p.idtTables[1].gates[3]?.target).toBe(p.labels.h);
    expect(p.idtTables[0].gates[3]).toBeNull();
    expect(p.idtBase).toBe(0x1000); // the first .idt, not the default table
    expect(p.idt).toBe(p.idtTables[0].gates);
  });
  it('can be referenced by its label, which is settled by the layout fixpoint', () => {
    const p = program('lea rax, [__idt]\nmov rbx, __idt\nhlt');
    expect(p.instrs[0].b).toEqual({ k: 2, base: -1, disp: 0x1010, size: 8 });
    expect(p.instrs[1].b).toEqual({ k: 1, lo: 0x1010, hi: 0 });
  });
});

describe('.idt NAME', () => {
  it('aligns to 16, defines NAME there and reserves 4096 bytes in place', () => {
    const p = program('nop\nbefore: .idt first\nafter: hlt');
    expect([p.labels.before, p.labels.first, p.labels.after]).toEqual([0x1001, 0x1010, 0x2010]);
    expect(p.instrs[1].addr).toBe(0x2010);
    expect(p.idtTables.map((t) => [t.name, t.base])).toEqual([['first', 0x1010]]);
    expect(p.idtBase).toBe(0x1010);
    expect(Array.from(p.image.slice(1, 0x1010)).every((b) => b === 0)).toBe(true);
  });
  it('switches the current table for the gates that follow', () => {
    const p = program(
      [
        '.idt a',
        '.intgate 32, h1',
        '.trapgate 3, h1',
        '.idt b',
        '.intgate 32, h2', // the same vector in another table is no duplicate
        'h1: iretq',
        'h2: iretq',
      ].join('\n'),
    );
    const [a, b] = p.idtTables;
    expect([a.name, b.name, p.idtTables.length]).toEqual(['a', 'b', 2]);
    expect([a.gates[32]?.label, a.gates[3]?.kind, b.gates[32]?.label, b.gates[3]]).toEqual([
      'h1',
      'trap',
      'h2',
      null,
    ]);
    expect(descriptor(p, a.base, 32).slice(0, 2)).toEqual([p.labels.h1 & 0xff, p.labels.h1 >> 8]);
    expect(descriptor(p, b.base, 32).slice(0, 2)).toEqual([p.labels.h2 & 0xff, p.labels.h2 >> 8]);
    expect(descriptor(p, b.base, 3)).toEqual(zeros(16));
    expect(b.base - a.base).toBe(IDT_SIZE);
    expect(p.idt).toBe(a.gates);
  });
  it('lets code branch over a table (the branch becomes near)', () => {
    const p = program('jmp over\n.idt t\nover: hlt');
    expect(p.instrs[0].len).toBe(5);
    expect(p.instrs[0].n).toBe(p.labels.over);
    expect(p.labels.over).toBe(p.labels.t + IDT_SIZE);
  });
});

describe('.idtr NAME', () => {
  it('writes a pseudo-descriptor: limit 0x0FFF, then the 64-bit base of the table', () => {
    const p = program('.idt t\ndesc: .idtr t\nafter: lidt [desc]', 0x12340000);
    expect(p.labels.t).toBe(0x12340000);
    expect(bytesAt(p, 'desc', 10)).toEqual([0xff, 0x0f, 0x00, 0x00, 0x34, 0x12, 0, 0, 0, 0]);
    expect(p.labels.after - p.labels.desc).toBe(10);
  });
  it('may point at the default table, and precede the table it names', () => {
    const p = program('p1: .idtr __idt\np2: .idtr later\nhlt\n.intgate 1, h\n.idt later\nh: iretq');
    expect(bytesAt(p, 'p1', 10)).toEqual(idtrPseudoDescriptor(p.labels.__idt));
    expect(bytesAt(p, 'p2', 10)).toEqual(idtrPseudoDescriptor(p.labels.later));
    expect(idtrPseudoDescriptor(0x2010)).toEqual([0xff, 0x0f, 0x10, 0x20, 0, 0, 0, 0, 0, 0]);
  });
});

describe('lidt [mem]', () => {
  it('is Op.LIDT with a 10-byte memory operand in a', () => {
    const p = program('lidt [desc]\nlidt [rbx+8]\ndesc: .idtr __idt');
    expect(p.instrs[0]).toMatchObject({
      op: Op.LIDT,
      a: { k: 2, base: -1, disp: p.labels.desc, size: 10 },
      b: null,
      len: 7, // 0F 01 /3 with a RIP-relative disp32
      text: 'lidt [desc]',
    });
    expect(p.instrs[1]).toMatchObject({ a: { k: 2, base: 3, disp: 8, size: 10 }, len: 4 });
  });
  it('needs a REX prefix for an r8-r15 base', () => {
    expect(program('lidt [rbx]').instrs[0].len).toBe(3);
    expect(program('lidt [r9]').instrs[0].len).toBe(4);
    expect(program('lidt [rsp]').instrs[0].len).toBe(4);
    expect(program('lidt [r13+0x100]').instrs[0].len).toBe(8);
  });
});

describe('IDT errors', () => {
  it.each([
    [
      '.intgate 14, h\n.trapgate 14, h\nh: iretq',
      ['2:11 duplicate IDT gate for vector 14 (first set on line 1)'],
    ],
    [
      '.idt a\n.intgate 14, h\n.idt b\n.intgate 14, h\n.trapgate 14, h\nh: iretq',
      ['5:11 duplicate IDT gate for vector 14 (first set on line 4)'],
    ],
    ['.idt a\n.intgate 300, h\nh: iretq', ['2:10 IDT vector 300 is out of range (0–255)']],
    ['.idt\nnop', ["1:1 '.idt' needs the name of an IDT"]],
    ['.idt a, b\nnop', ["1:1 '.idt' needs the name of an IDT"]],
    ['.idt 5\nnop', ["1:6 expected the name of an IDT, found '5'"]],
    ['.idt a+1\nnop', ["1:6 expected the name of an IDT, found 'a+1'"]],
    ['.idt rax\nnop', ["1:6 register 'rax' cannot be used in an expression"]],
    ['.idt mov\nnop', ["1:6 'mov' is an instruction name and cannot be a label"]],
    ['.idt __idt\nnop', ["1:6 '__idt' is the name of the default IDT and cannot be a label"]],
    ['.idt VM_EXIT_REASON\nnop', ["1:6 'VM_EXIT_REASON' is a VMCS/VMX constant and cannot be a label"]],
    ['t: nop\n.idt t', ["2:6 duplicate label 't' (first defined on line 1)"]],
    ['.idt t\nt: nop', ["2:1 duplicate label 't' (first defined on line 1)"]],
    ['__idt: nop', ["1:1 '__idt' is the name of the default IDT and cannot be a label"]],
    ['.idtr\nnop', ["1:1 '.idtr' needs the name of an IDT"]],
    ['.idtr nothere\nnop', ["1:7 undefined IDT 'nothere'"]],
    ['x: .idtr x\nnop', ["1:10 'x' is a label, not an IDT defined by '.idt'"]],
    ['.idt t\n.idtr __idt\nnop', ["2:7 undefined IDT '__idt'"]],
    ['lidt rax', ["1:6 'lidt' does not take (reg)"]],
    ['lidt', ["1:1 'lidt' needs 1 operand"]],
    ['lidt qword [x]\nx: .idtr __idt', ["1:6 'lidt' takes its 10-byte operand without a size keyword"]],
  ] as [string, string[]][])('%j', (src, expected) => {
    expect(errorList(src)).toEqual(expected);
  });
  it('drops the gates after a wrong .idt instead of piling up duplicates', () => {
    expect(errorList('.idt 1\n.intgate 3, h\n.idt 2\n.intgate 3, h\nh: iretq')).toEqual([
      "1:6 expected the name of an IDT, found '1'",
      "3:6 expected the name of an IDT, found '2'",
    ]);
  });
});
