// Xen decisions in the other faces of the core: the palette's search finds them by Xen
// function name, and the Perfetto export names its instants after them.
import { describe, expect, it } from 'vitest';
import { runQuery, sessionRun } from '../../../src/core/engine/search';
import { sessionToPerfetto } from '../../../src/core/export/perfetto';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { open } from '../helpers';
import { xenDecisions } from './xen-helpers';

describe('Xen decisions in search and Perfetto', () => {
  const s = open(findBuiltin('xen-svm-vnmi'), { vnmi: false });

  it('search "svm_intr_assist" finds every svm_intr_assist decision, named', () => {
    const a = runQuery(sessionRun(s), 'svm_intr_assist');
    if (!a.ok || a.kind !== 'results') throw new Error(JSON.stringify(a));
    const want = xenDecisions(s)
      .filter((d) => d.fn === 'svm_intr_assist')
      .map((d) => d.step);
    expect(a.steps).toEqual(want);
    expect(a.notes[0]).toBe('L0 svm_intr_assist');
  });

  it('Perfetto: instants named after the Xen function, with its file, category xen', () => {
    const ev = sessionToPerfetto(s).traceEvents;
    const i = ev.find((e) => e.ph === 'i' && e.name === 'svm_vmexit_handler')!;
    expect(i.cat).toBe('xen');
    expect(i.args?.file).toBe('xen/arch/x86/hvm/svm/svm.c');
  });
});
