import { describe, it, expect } from 'vitest';
import { assemble, DEFAULT_ORIGIN, Op } from '../../../src/core/asm';
import { program } from './helpers';

describe('addresses', () => {
  it('places consecutive instructions from the origin', () => {
    const p = program('mov rax, 1\nnop\nadd rax, [rbx+8]\nhlt');
    expect(p.origin).toBe(DEFAULT_ORIGIN);
    expect(p.instrs.map((i) => [i.addr, i.len])).toEqual([
      [0x1000, 5],
      [0x1005, 1],
      [0x1006, 4],
      [0x100a, 1],
    ]);
    // The code ends at 0x100b; the default IDT follows, 16-byte aligned (idt.test.ts).
    expect(p.labels.__idt).toBe(0x1010);
    expect(p.end).toBe(0x1010 + 4096);
  });
  it('honours the origin option', () => {
    const p = program('nop\nl: hlt', 0x7c00);
    expect([p.origin, p.instrs[1].addr, p.labels.l, p.labels.__idt, p.end, p.entry]).toEqual([
      0x7c00, 0x7c01, 0x7c01, 0x7c10, 0x8c10, 0x7c00,
    ]);
  });
  it('keeps the source lines', () => {
    expect(program('nop\r\n; c\nhlt').source).toEqual(['nop', '; c', 'hlt']);
  });
});

describe('labels', () => {
  it('resolve into n, disp and imm', () => {
    const p = program(
      [
        'start: mov rax, handler',
        'mov rbx, [value+8]',
        'mov rcx, [rsi+value]',
        'call handler',
        'handler: ret',
        'value: .dq 1, 2',
      ].join('\n'),
    );
    const { handler, value } = p.labels;
    expect(handler).toBe(p.instrs[4].addr);
    expect(p.instrs[0].b).toEqual({ k: 1, lo: handler, hi: 0 });
    expect(p.instrs[1].b).toEqual({ k: 2, base: -1, disp: value + 8, size: 8 });
    expect(p.instrs[2].b).toEqual({ k: 2, base: 6, disp: value, size: 8 });
    expect(p.instrs[3].n).toBe(handler);
  });
  it('take expressions of labels and numbers', () => {
    const p = program('a: nop\nb: nop\nmov rax, b-a+0x10\nmov rbx, -a');
    expect(p.instrs[2].b).toEqual({ k: 1, lo: 0x11, hi: 0 });
    expect(p.instrs[3].b).toEqual({ k: 1, lo: (-0x1000 >>> 0) >>> 0, hi: 0xffffffff });
  });
  it('are case-sensitive and may start with a dot or an underscore', () => {
    const p = program('Loop: nop\nloop: nop\n.local_1: nop\n_x.y: jmp .local_1');
    expect(p.labels).toEqual({
      Loop: 0x1000,
      loop: 0x1001,
      '.local_1': 0x1002,
      '_x.y': 0x1003,
      __idt: 0x1010,
    });
    expect(p.instrs[3].n).toBe(0x1002);
  });
  it('may stand alone on a line and mark the next statement', () => {
    const p = program('nop\nhere:\n\n; comment\n  hlt');
    expect(p.labels.here).toBe(0x1001);
  });
  it('is the address before alignment padding', () => {
    const p = program('nop\nbefore: .align 8\nafter: nop');
    expect([p.labels.before, p.labels.after]).toEqual([0x1001, 0x1008]);
  });
  it('accepts __proto__ as an ordinary name', () => {
    const p = program('__proto__: nop\njmp __proto__');
    expect(Object.keys(p.labels)).toEqual(['__proto__', '__idt']);
    expect(p.instrs[1].n).toBe(0x1000);
  });
});

describe('data', () => {
  it('places .db/.dw/.dd/.dq little-endian, interleaved with code', () => {
    const p = program('nop\nb: .db 1, 0xff, -1\nw: .dw 0x1234\nd: .dd 0xdeadbeef\nq: .dq -2, q\nhlt');
    expect([p.labels.b, p.labels.w, p.labels.d, p.labels.q]).toEqual([0x1001, 0x1004, 0x1006, 0x100a]);
    expect(Array.from(p.image.slice(0, 0x1b))).toEqual([
      0x90,
      1, 0xff, 0xff,
      0x34, 0x12,
      0xef, 0xbe, 0xad, 0xde,
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0x0a, 0x10, 0, 0, 0, 0, 0, 0,
      0x90,
    ]); // prettier-ignore
    expect(p.instrs[1].addr).toBe(0x101a);
  });
  it('fills code bytes with 0x90', () => {
    const p = program('mov rax, 0x100000000\n.db 7');
    expect(Array.from(p.image.slice(0, 11))).toEqual([...new Array(10).fill(0x90), 7]);
  });
  it('infers memory operand sizes from the data after the label', () => {
    const p = program(
      [
        'inc [b]',
        'inc [w+2]',
        'inc [rbx+d]',
        'inc [q]',
        'inc [code]',
        'inc [z]',
        'inc word [b]',
        'code: ret',
        'b: .db 1',
        'w: .dw 1, 2',
        'd:',
        '  ; a comment between',
        '  .dd 1',
        'q: .dq 1',
        'z: .zero 8',
      ].join('\n'),
    );
    expect(p.instrs.slice(0, 7).map((i) => (i.a?.k === 2 ? i.a.size : 0))).toEqual([1, 2, 4, 8, 8, 8, 2]);
  });
  it('reserves zeros with .zero and pads with .align', () => {
    const p = program('nop\n.zero 3\nz: .align 4\na: .db 1\n.align 1\n.zero 0\n.align 16\nend: hlt');
    expect([p.labels.z, p.labels.a, p.labels.end]).toEqual([0x1004, 0x1004, 0x1010]);
    expect(Array.from(p.image.slice(0, 5))).toEqual([0x90, 0, 0, 0, 1]);
    expect(Array.from(p.image.slice(5, 16)).every((x) => x === 0)).toBe(true);
    expect(p.image[0x10]).toBe(0x90);
    expect(p.labels.__idt).toBe(0x1020); // the code ends at 0x1011
    expect(p.image.length).toBe(0x20 + 4096);
  });
  it('aligns to absolute addresses', () => {
    const p = program('nop\n.align 0x100\nx: nop', 0x1234);
    expect(p.labels.x).toBe(0x1300);
  });
});

describe('IDT', () => {
  it('places interrupt and trap gates (more in idt.test.ts)', () => {
    const p = program('.intgate 32, timer\n.trapgate 3, bp\n.intgate 0xff, timer\ntimer: iretq\nbp: iretq');
    expect(p.idt.length).toBe(256);
    expect(p.idt[32]).toEqual({
      vector: 32,
      kind: 'interrupt',
      target: p.labels.timer,
      label: 'timer',
      line: 1,
    });
    expect(p.idt[3]).toEqual({ vector: 3, kind: 'trap', target: p.labels.bp, label: 'bp', line: 2 });
    expect(p.idt[255]?.target).toBe(0x1000);
    expect(p.idt.filter((g) => g !== null).length).toBe(3);
    expect(p.end).toBe(0x1010 + 4096); // the gates are in the default IDT after the code
  });
});

describe('entry and indexAt', () => {
  it('starts at the label start when there is one', () => {
    const p = program('handler: iretq\nstart: nop\nhlt');
    expect(p.entry).toBe(0x1002);
  });
  it('else at the first instruction, even after data', () => {
    const p = program('.dq 5\nnop');
    expect(p.entry).toBe(0x1008);
  });
  it('maps each address to the instruction starting there', () => {
    const p = program('mov eax, 1\n.db 9\nnop\nret');
    expect(Array.from(p.indexAt.slice(0, 8))).toEqual([0, -1, -1, -1, -1, -1, 1, 2]);
    expect(p.indexAt.slice(8).every((i) => i === -1)).toBe(true); // padding and the IDT
    expect(p.indexAt.length).toBe(p.end - p.origin);
  });
});

describe('branch relaxation', () => {
  const nops = (n: number) => new Array(n).fill('nop').join('\n');
  it('keeps a short jump short and makes a long one near', () => {
    const p = program(`jmp near_\n${nops(10)}\nnear_: jmp far_\n${nops(200)}\nfar_: hlt`);
    expect(p.instrs[0].len).toBe(2);
    expect(p.instrs[11].len).toBe(5);
    expect(p.instrs[11].n).toBe(p.labels.far_);
    expect(p.labels.far_).toBe(p.instrs[11].addr + 5 + 200);
  });
  it('does the same for jcc: 2 or 6 bytes', () => {
    const p = program(`je a\n${nops(10)}\na: jne b\n${nops(200)}\nb: hlt`);
    expect([p.instrs[0].len, p.instrs[11].len]).toEqual([2, 6]);
  });
  it('measures backward displacements from the end of the instruction', () => {
    // 126 nops + a 2-byte jump: displacement -128 fits; one more nop does not.
    expect(program(`top: ${nops(126)}\njmp top`).instrs[126].len).toBe(2);
    expect(program(`top: ${nops(127)}\njmp top`).instrs[127].len).toBe(5);
  });
  it('measures forward displacements: 127 fits, 128 does not', () => {
    expect(program(`jmp t\n${nops(127)}\nt: hlt`).instrs[0].len).toBe(2);
    expect(program(`jmp t\n${nops(128)}\nt: hlt`).instrs[0].len).toBe(5);
  });
  it('grows a chain: a branch that grows pushes another out of range', () => {
    // j2 jumps over j1 and K nops; j1 jumps over them, t2 and 10 more nops (K + 11 > 127: near).
    // While j1 is short, j2 spans 2 + K; once j1 is near, 5 + K.
    const chain = (k: number) =>
      program([`jmp t2`, `jmp t1`, nops(k), `t2: nop`, nops(10), `t1: hlt`].join('\n'));
    const fits = chain(122); // 5 + 122 = 127: j2 stays short
    expect([fits.instrs[0].len, fits.instrs[1].len]).toEqual([2, 5]);
    const grows = chain(123); // 2 + 123 = 125 fits at first, 5 + 123 = 128 no longer does
    expect([grows.instrs[0].len, grows.instrs[1].len]).toEqual([5, 5]);
    expect(grows.labels.t2 - (grows.instrs[0].addr + 5)).toBe(5 + 123);
    expect(grows.instrs[0].n).toBe(grows.labels.t2);
    expect(grows.instrs[1].addr).toBe(0x1005);
  });
  it('settles forward label immediates and displacements', () => {
    const p = program(`mov rax, [rbx+fwd-0x1000]\nmov rcx, fwd-0x1000\n${nops(200)}\nfwd: hlt`);
    // fwd - 0x1000 is 4 + 5 + 200 = 209: disp32, imm32
    expect(p.instrs[0].len).toBe(7);
    expect(p.instrs[0].b).toEqual({ k: 2, base: 3, disp: 212, size: 8 });
    expect(p.instrs[1].b).toEqual({ k: 1, lo: 212, hi: 0 });
  });
});

describe('64-bit immediates', () => {
  it('holds 0xffffffffffffffff and -1 as two all-ones halves', () => {
    const p = program('mov rax, 0xffffffffffffffff\nmov rbx, -1\nmov rcx, 0x1_0000_0002');
    expect(p.instrs[0].b).toEqual({ k: 1, lo: 0xffffffff, hi: 0xffffffff });
    expect(p.instrs[1].b).toEqual({ k: 1, lo: 0xffffffff, hi: 0xffffffff });
    expect(p.instrs[2].b).toEqual({ k: 1, lo: 2, hi: 1 });
    expect(p.instrs.map((i) => i.len)).toEqual([7, 7, 10]);
  });
  it('accepts -2^63 and 2^64-1 as values', () => {
    const p = program('mov rax, -0x8000000000000000\n.dq 18446744073709551615');
    expect(p.instrs[0].b).toEqual({ k: 1, lo: 0, hi: 0x80000000 });
    expect(Array.from(p.image.slice(10, 18))).toEqual(new Array(8).fill(0xff));
  });
});

describe('programs', () => {
  it('assembles a small kvm-unit-tests style guest', () => {
    const r = assemble(`
      .intgate 32, timer_isr      ; the timer
      start:
        mov qword [count], 0
        sti
      wait:
        work 1000
        cmp qword [count], 3
        jb wait
        cli
        assert [count] == 3, "three ticks"
        hlt
      timer_isr:
        inc qword [count]
        iretq
      count: .dq 0
    `);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const p = r.program;
    expect(p.entry).toBe(p.labels.start);
    expect(p.idt[32]?.target).toBe(p.labels.timer_isr);
    expect(p.instrs.map((i) => i.op)).toEqual([
      Op.MOV,
      Op.STI,
      Op.WORK,
      Op.CMP,
      Op.JCC,
      Op.CLI,
      Op.ASSERT,
      Op.HLT,
      Op.INC,
      Op.IRETQ,
    ]);
    expect(p.instrs[4].n).toBe(p.labels.wait);
  });
});
