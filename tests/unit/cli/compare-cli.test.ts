// npm run sim -- NAME --fork STEP:TARGET=VALUE and --compare PARAM=VALUE | fork.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main';

describe('--fork', () => {
  it('runs the fork: the edit is a step of the story, and the future differs', () => {
    const r = runCli([
      'soft-vnmi',
      '--set',
      'virtual_nmis=true',
      '--fork',
      '30:GUEST_INTERRUPTIBILITY_INFO.NMI=0',
    ]);
    // The second NMI now nests inside the first handler: the "never nested" assertion fails.
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^fork edits: 30:GUEST_INTERRUPTIBILITY_INFO.NMI=0$/m);
    expect(r.stdout).toMatch(/^ {5}31 +\d+ {2}L0 {5}Edited by the user \(fork edit 1/m);
    expect(r.stdout).toMatch(/^ {5}33 +\d+ {2}L1 {5}VM exit, reason 8 \(NMI_WINDOW\)/m);
    expect(r.stdout).toMatch(/FAIL +step 63, L1 line 16: the NMI handler never nested/);
  });

  it('several edits; --json carries the edit event', () => {
    const r = runCli(['apic-priority', '--fork', '2:RAX=0x1234', '--fork', '2:RFLAGS.IF=1', '--json']);
    const j = JSON.parse(r.stdout);
    expect(j.fork).toEqual(['2:RAX=0x1234', '2:RFLAGS.IF=1']);
    const edit = j.events.find((e: { kind: string }) => e.kind === 'edit');
    expect(edit).toMatchObject({ step: 3, kind: 'edit', data: { group: 0, edits: 2 } });
  });

  it('an edit that cannot be read: status 2, the edit, the column and the reason', () => {
    const r = runCli(['soft-vnmi', '--fork', '30:GUEST_INTERRUPTIBILITY_INFOO.NMI=0']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^soft-vnmi: fork error at fork edit 1, column 4: edit 1 \('30:GUEST_INTERRUPTIBILITY_INFOO.NMI=0'\), column 4: .*closest names: .*GUEST_INTERRUPTIBILITY_INFO/,
    );
    expect(runCli(['soft-vnmi', '--fork', '30-RAX=1']).stderr).toMatch(/an edit is STEP:TARGET=VALUE/);
    expect(runCli(['soft-vnmi', '--fork']).stderr).toMatch(/--fork needs an edit/);
  });
});

describe('--compare', () => {
  it('prints the first divergence of two variants and the exits per level of both', () => {
    const r = runCli(['soft-vnmi', '--compare', 'virtual_nmis=true']);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^ {2}A: as written — 67 steps$/m);
    expect(out).toMatch(/^ {2}B: virtual_nmis=true — 63 steps$/m);
    expect(out).toMatch(/^common prefix: 27 events;/m);
    expect(out).toMatch(/^ {2}A {2}step 28 {2}L0 {2}vmx_recover_nmi_blocking/m);
    expect(out).toMatch(/^ {2}B {2}step 28 {2}L0 {2}handle_external_interrupt_irqoff/m);
    expect(out).toMatch(/^ {2}L1 · guest kernel +4 +4$/m);
  });

  it('compares a scenario with its fork, as JSON', () => {
    const r = runCli([
      'soft-vnmi',
      '--set',
      'virtual_nmis=1',
      '--fork',
      '30:GUEST_INTERRUPTIBILITY_INFO.NMI=0',
      '--compare',
      'fork',
      '--json',
    ]);
    const j = JSON.parse(r.stdout);
    expect(j.prefix).toBe(30);
    expect(j.divergence).toMatchObject({
      a: 31,
      b: 31,
      eventA: { kind: 'vmentry' },
      eventB: { kind: 'edit' },
    });
    expect(j.b.exitsPerLevel).toEqual([0, 4]);
  });

  it('a bad --compare argument', () => {
    expect(runCli(['soft-vnmi', '--compare', 'virtual_nmis']).stderr).toMatch(/--compare needs PARAM=VALUE/);
    expect(runCli(['soft-vnmi', '--compare', 'nope=1']).code).toBe(2);
  });
});
