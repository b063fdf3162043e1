// The compare view's pieces that need no worker: the other side's request, the cursor map, the
// diff of the panels (on real step views of soft-vnmi and its fork).
import { describe, expect, it } from 'vitest';
import { alignedStep, otherRequest } from '../../src/app/compare/compare-controller';
import { diffViews } from '../../src/app/compare/panel-diff';
import { specLabel } from '../../src/app/compare/CompareView';
import { openFork } from '../../src/core/engine/fork-session';
import { openSession } from '../../src/core/engine/session';
import type { ScenarioInfo } from '../../src/core/engine/view';
import { findBuiltin } from '../../src/core/scenario/builtins';
import { parseEdit } from '../../src/core/scenario/fork';

const info = {
  params: [
    { key: 'virtual_nmis', description: '', type: 'boolean', value: false },
    { key: 'era', description: '', type: 'string', value: 'current', choices: ['current', '2008'] },
  ],
} as unknown as ScenarioInfo;

describe('the other side', () => {
  it('is the run on screen with the compared parameters typed, and the fork edits', () => {
    const s = { request: { builtin: 'soft-vnmi', params: { starve: true } }, info };
    expect(otherRequest(s, { params: { virtual_nmis: '1' }, edits: [] })).toEqual({
      ok: true,
      request: { builtin: 'soft-vnmi', params: { starve: true, virtual_nmis: true } },
    });
    expect(otherRequest(s, { params: {}, edits: ['30:RAX=1'] })).toEqual({
      ok: true,
      request: { builtin: 'soft-vnmi', params: { starve: true }, fork: ['30:RAX=1'] },
    });
    const bad = otherRequest(s, { params: { era: '1999' }, edits: [] });
    expect(bad).toEqual({
      ok: false,
      message: "field ‘cmp (parameter 1)’: era: '1999' is not one of current, 2008",
    });
    expect(otherRequest(s, { params: { nope: '1' }, edits: [] })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/has no parameter 'nope' \(its parameters: virtual_nmis, era\)/),
    });
  });

  it('is named by what differs', () => {
    expect(specLabel({ params: { virtual_nmis: '1' }, edits: ['30:X=0'] })).toBe(
      'virtual_nmis = 1; fork 30:X=0',
    );
  });

  it('an unmatched step follows the match of the step before', () => {
    const map = Int32Array.from([0, 1, -1, -1, 5]);
    expect(alignedStep(map, 1)).toBe(1);
    expect(alignedStep(map, 3)).toBe(1);
    expect(alignedStep(map, 4)).toBe(5);
    expect(alignedStep(map, 99)).toBe(5);
  });
});

describe('the diff of the panels', () => {
  it('marks the deciding bit the fork cleared, and nothing else, at the edit step', () => {
    const base = openSession({ doc: findBuiltin('soft-vnmi') }, { virtual_nmis: true });
    const fork = openFork({ doc: findBuiltin('soft-vnmi') }, { virtual_nmis: true }, [
      parseEdit('30:GUEST_INTERRUPTIBILITY_INFO.NMI=0'),
    ]);
    if (!base.ok || !fork.ok) throw new Error('did not open');
    // Step 30 of the original and 31 of the fork (the edit) are aligned neighbours.
    const rows = diffViews(base.session.view(30), fork.session.view(31));
    const changed = rows.filter((r) => r.changed);
    expect(changed.map((r) => `${r.section} ${r.name}: ${r.a} → ${r.b}`)).toEqual([
      'L1 · guest kernel blocking by NMI: 1 → 0',
      'vmcs01 GUEST_INTERRUPTIBILITY_INFO: 0x8 → 0x0',
    ]);
    expect(rows.some((r) => r.section === 'vmcs01' && r.name === 'GUEST_RIP' && !r.changed)).toBe(true);
  });
});
