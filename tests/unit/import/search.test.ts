// The palette's search over an imported trace (src/core/import/search.ts): the run's query
// words matched against tracepoints, the two words only an imported trace has (a tracepoint's
// name, `vcpu N`), go to the N-th event, and clear errors for what a trace cannot answer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QueryError } from '../../../src/core/engine/search-query';
import { searchImported } from '../../../src/core/import/search';
import { parseTraceCmd } from '../../../src/core/import/trace-cmd';

const fixture = (name: string) =>
  parseTraceCmd(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));
const vmx = fixture('kvm-vmx.trace-cmd.txt');
const svm = fixture('kvm-svm.trace.txt');

/** The matches of a query, as the fixture's line numbers. */
const lines = (trace: typeof vmx, q: string) =>
  searchImported(trace, q).matches.map((i) => trace.events[i].line);

function errorOf(trace: typeof vmx, q: string): QueryError {
  try {
    searchImported(trace, q);
  } catch (e) {
    if (e instanceof QueryError) return e;
    throw e;
  }
  throw new Error(`'${q}' was read`);
}

describe('searching an imported VMX trace', () => {
  it('finds exits by reason number and by name, as in a run', () => {
    expect(lines(vmx, 'exit 7')).toEqual([10]);
    expect(lines(vmx, 'exit EXTERNAL_INTERRUPT')).toEqual([3, 20]);
    expect(lines(vmx, 'exit nmi_window')).toEqual([16, 17, 18]);
  });

  it('finds a vector where it was injected and where an exit reported it', () => {
    // intr_info 0x800000ec on the exits, IRQ 0xec and irq 236 injected.
    expect(lines(vmx, 'vector 0xec')).toEqual([3, 4, 11, 20]);
    expect(lines(vmx, 'vector 13')).toEqual([6, 7]);
  });

  it('reads kinds as tracepoints: exits, entries, and injections for delivery', () => {
    expect(lines(vmx, 'vmentry')).toEqual([2, 5, 8, 9, 12, 14, 15, 19, 24]);
    expect(lines(vmx, 'delivery')).toEqual([4, 7, 11, 22, 23]);
    expect(lines(vmx, 'vmexit L2')).toEqual([17, 18, 21]);
  });

  it('takes a tracepoint by name and a vCPU, with the other words', () => {
    expect(lines(vmx, 'kvm_inj_virq')).toEqual([4, 11, 22]);
    expect(lines(vmx, 'vcpu 1')).toEqual([9, 10, 11, 12]);
    expect(lines(vmx, 'vmexit vcpu 1')).toEqual([10]);
    expect(lines(vmx, 'kvm_inj_virq vector 236 vcpu 0')).toEqual([4]);
  });

  it('goes to the N-th event with step N', () => {
    expect(searchImported(vmx, 'step 3')).toEqual({ matches: [2], goto: 2 });
    expect(errorOf(vmx, 'step 99').message).toMatch(/events 1 to 23/);
  });

  it('says what a trace cannot answer, and where a word could not be read', () => {
    expect(errorOf(vmx, 'fn vmx_inject_nmi').message).toMatch(/no kernel functions and assertions/);
    expect(errorOf(vmx, 'RFLAGS.IF changed').message).toMatch(/no change of state/);
    expect(errorOf(vmx, '@500').message).toMatch(/time in TSC cycles/);
    const e = errorOf(vmx, 'vmexit vcpu');
    expect(e.column).toBe(8);
    expect(e.message).toMatch(/vCPU number is missing/);
    // A word the parser does not know keeps its column although tracepoint names were taken out.
    expect(errorOf(vmx, 'kvm_exit bogus').column).toBe(10);
  });
});

describe('searching an imported SVM trace', () => {
  it('matches an SVM exit by its own code and by the VMX reason KVM handles it as', () => {
    expect(lines(svm, 'exit 0x61')).toEqual([23, 24, 25]);
    expect(lines(svm, 'exit 0')).toEqual([17, 23, 24, 25]);
    expect(lines(svm, 'exit EXTERNAL_INTERRUPT')).toEqual([14]);
    expect(lines(svm, 'kvm_nested_vmexit_inject')).toEqual([25]);
  });
});
