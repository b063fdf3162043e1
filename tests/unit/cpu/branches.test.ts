// JMP and every Jcc condition, taken and not taken (SDM Vol. 2A "Jcc—Jump if Condition Is
// Met"): the flags come from a real CMP/ADD, and the next RIP in the trace shows the choice.
import { describe, expect, it } from 'vitest';
import { STOP, cpu, label, reg, rows, run } from '../helpers';

/** Runs `setup`, then `jcc` to 'taken'; returns whether the branch was taken. */
function taken(setup: string[], jcc: string): boolean {
  const s = run([
    'start:',
    ...setup,
    `branch: ${jcc} taken`,
    'mov ebx, 1',
    'jmp done',
    'taken:',
    'mov ebx, 2',
    'done:',
    ...STOP,
  ]);
  const r = rows(s);
  const branchStep = r.find((x) => x.rip === label(s, 'branch'))!.step;
  const next = cpu(s, branchStep).rip;
  const isTaken = next === label(s, 'taken');
  // the marker register agrees with the RIP the trace records
  expect(reg(s, 'rbx')).toBe(isTaken ? 2n : 1n);
  if (!isTaken)
    expect(next).toBe(
      label(s, 'branch') + s.compiled.programs[0].instrs.find((i) => i.addr === label(s, 'branch'))!.len,
    );
  return isTaken;
}

const cmp = (a: number | string, b: number | string) => [`mov eax, ${a}`, `cmp eax, ${b}`];
const overflow = ['mov eax, 0x7fffffff', 'add eax, 1']; // OF=1, SF=1
const noOverflow = ['mov eax, 1', 'add eax, 1'];

// [mnemonics (aliases), flags setup where the condition holds, setup where it does not]
const CONDITIONS: [string[], string[], string[]][] = [
  [['jo'], overflow, noOverflow],
  [['jno'], noOverflow, overflow],
  [['jb', 'jc', 'jnae'], cmp(1, 2), cmp(-1, 1)], // unsigned: 0xffffffff is above 1
  [['jae', 'jnb', 'jnc'], cmp(2, 2), cmp(1, 2)],
  [['je', 'jz'], cmp(5, 5), cmp(5, 6)],
  [['jne', 'jnz'], cmp(5, 6), cmp(5, 5)],
  [['jbe', 'jna'], cmp(2, 2), cmp(3, 2)],
  [['ja', 'jnbe'], cmp(-1, 2), cmp(2, 2)],
  [['js'], cmp(0, 1), cmp(1, 0)],
  [['jns'], cmp(1, 0), cmp(0, 1)],
  [['jl', 'jnge'], cmp(-1, 1), cmp(1, -1)],
  [['jge', 'jnl'], cmp(1, -1), cmp(-2, -1)],
  [['jle', 'jng'], cmp(2, 2), cmp(3, 2)],
  [['jg', 'jnle'], cmp(1, -1), cmp(2, 2)],
];

describe('Jcc', () => {
  for (const [names, yes, no] of CONDITIONS) {
    for (const jcc of names) {
      it(`${jcc} is taken when its condition holds and falls through otherwise`, () => {
        expect(taken(yes, jcc)).toBe(true);
        expect(taken(no, jcc)).toBe(false);
      });
    }
  }

  it('signed conditions use SF xor OF (a signed overflow flips the answer)', () => {
    // 0x80000000 - 1 overflows: SF=0, OF=1, so 0x80000000 < 1 signed
    expect(taken(cmp('0x80000000', 1), 'jl')).toBe(true);
    expect(taken(cmp('0x80000000', 1), 'jg')).toBe(false);
    expect(taken(cmp('0x80000000', 1), 'ja')).toBe(true);
  });

  it('64-bit compares look at the high half', () => {
    expect(taken(['mov rax, 0x100000000', 'cmp rax, 1'], 'ja')).toBe(true);
    expect(taken(['mov rax, 0x100000000', 'cmp eax, 1'], 'jb')).toBe(true);
    expect(taken(['mov rax, -1', 'cmp rax, 0'], 'jl')).toBe(true);
  });
});

describe('jmp', () => {
  it('jumps forwards and backwards; a loop runs its count', () => {
    const s = run([
      'start:',
      'mov ecx, 5',
      'loop:',
      'inc rax',
      'dec ecx',
      'back: jnz loop',
      'fwd: jmp done',
      'nop',
      'done:',
      ...STOP,
    ]);
    expect(reg(s, 'rax')).toBe(5n);
    expect(reg(s, 'rcx')).toBe(0n);
    const stepAt = (l: string) => rows(s).find((r) => r.rip === label(s, l))!.step;
    expect(cpu(s, stepAt('back')).rip).toBe(label(s, 'loop')); // backwards
    expect(cpu(s, stepAt('fwd')).rip).toBe(label(s, 'done')); // forwards, over the nop
    const nopAddr = label(s, 'done') - 1;
    expect(rows(s).some((r) => r.rip === nopAddr)).toBe(false);
    // 1 mov + 5 × (inc, dec, jnz) + jmp + cli + hlt
    expect(s.totalSteps).toBe(1 + 15 + 1 + 2);
  });
});
