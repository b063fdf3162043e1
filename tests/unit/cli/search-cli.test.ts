// npm run sim -- NAME --search QUERY: the palette's query from the command line.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main';

describe('--search', () => {
  it('lists the results, one step a line', () => {
    const r = runCli(['soft-vnmi', '--search', 'exit 7']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('1 result: exit 7\n  step 38  L1 VM exit 7 INTERRUPT_WINDOW\n');
  });

  it('watches a KVM variable: soft_vnmi_blocked drops at the 1 s break-out under starve', () => {
    const r = runCli(['soft-vnmi', '--set', 'starve=true', '--search', 'soft_vnmi_blocked']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('3 results: when soft_vnmi_blocked of L0 changed');
    expect(lines[2]).toMatch(/^ {2}step \d+ {2}soft_vnmi_blocked of L0: 1 → 0$/);
  });

  it('a go-to prints where it goes; --json gives the answer as data', () => {
    expect(runCli(['soft-vnmi', '--search', 'step 12']).stdout).toBe('go to step 12\n');
    const j = JSON.parse(runCli(['soft-vnmi', '--json', '--search', 'vmentry']).stdout);
    expect(j).toMatchObject({ ok: true, kind: 'results', description: 'vmentry' });
    expect(j.steps.length).toBe(j.total);
  });

  it('an unreadable query: status 2, the column and the reason', () => {
    const r = runCli(['soft-vnmi', '--search', 'vector 999']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^--search: '999' at column 8: not a vector/);
    expect(runCli(['soft-vnmi', '--search']).stderr).toMatch(/--search needs a query/);
  });
});
