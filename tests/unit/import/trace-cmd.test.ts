// The trace-cmd / tracefs text parser: each KVM event kind in its current and older formats,
// VMX and SVM exit names, vCPUs learned from the task, malformed lines with their numbers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTraceCmd } from '../../../src/core/import/trace-cmd';
import { summarizeImport } from '../../../src/core/import/summary';
import { importToPerfetto } from '../../../src/core/import/to-perfetto';
import { checkTraceEvents } from '../../../src/core/export/trace-event-check';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');
const one = (payload: string, event: string) =>
  parseTraceCmd(` CPU 0/KVM-4321  [002]  5123.400000: ${event}: ${payload}`);

describe('each event kind', () => {
  it('kvm_entry: vcpu and rip (64-bit, kept as text); newer kernels add intr_info', () => {
    const e = one('vcpu 3, rip 0xffffffff81b0c2a4', 'kvm_entry').events[0];
    expect(e).toMatchObject({
      kind: 'kvm_entry',
      vcpu: 3,
      rip: '0xffffffff81b0c2a4',
      pid: 4321,
      cpu: 2,
      task: 'CPU 0/KVM',
    });
    expect(e.time).toBe(5123.4);
    const n = one('vcpu 0, rip 0x1000 intr_info 0x80000202 error_code 0x00000000', 'kvm_entry').events[0];
    expect(n.intrInfo).toBe(0x80000202);
  });

  it('kvm_exit (VMX): reason name and number, intr_info, error code', () => {
    const e = one(
      'vcpu 0 reason EXCEPTION_NMI rip 0x401a2c info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000b0d error_code 0x00000004',
      'kvm_exit',
    ).events[0];
    expect(e.exit).toEqual({ name: 'EXCEPTION_NMI', code: 0, isa: 'vmx', flags: [] });
    expect(e).toMatchObject({ vcpu: 0, rip: '0x401a2c', intrInfo: 0x80000b0d, errorCode: 4 });
    expect(e.fields.info1).toBe('0x0000000000000000');
  });

  it('kvm_exit (SVM): names with spaces ("GP excp" = 0x4d), "interrupt" = 0x60, "vmrun" = 0x80', () => {
    const t = parseTraceCmd(fixture('kvm-svm.trace.txt'));
    const exits = t.events.filter((e) => e.kind === 'kvm_exit').map((e) => e.exit);
    expect(exits).toEqual([
      { name: 'interrupt', code: 0x60, isa: 'svm', flags: [] },
      { name: 'GP excp', code: 0x4d, isa: 'svm', flags: [] },
      { name: 'vmrun', code: 0x80, isa: 'svm', flags: [] },
      { name: 'nmi', code: 0x61, isa: 'svm', flags: [] },
    ]);
  });

  it('kvm_exit in the older "reason X rip 0x.. info a b" format, and an unnamed reason printed as hex', () => {
    const e = one('reason HLT rip 0xffffffff8104f3a6 info 0 0', 'kvm_exit').events[0];
    expect(e.exit).toMatchObject({ name: 'HLT', code: 12, isa: 'vmx' });
    const h = one('vcpu 0 reason 0x4a rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0', 'kvm_exit')
      .events[0];
    expect(h.exit).toMatchObject({ name: '0x4a', code: 0x4a, isa: null });
  });

  it('kvm_inj_virq: "irq N" (older) and "IRQ 0x.." / "Soft/INTn 0x.. [reinjected]" (newer)', () => {
    expect(one('irq 236', 'kvm_inj_virq').events[0]).toMatchObject({ vector: 236, reinjected: false });
    expect(one('IRQ 0xec', 'kvm_inj_virq').events[0]).toMatchObject({ vector: 0xec });
    expect(one('Soft/INTn 0x80 [reinjected]', 'kvm_inj_virq').events[0]).toMatchObject({
      vector: 0x80,
      reinjected: true,
      fields: { type: 'Soft/INTn', irq: '0x80' },
    });
  });

  it('kvm_inj_exception: named vector with error code, without, and reinjected', () => {
    expect(one('#GP (0x18)', 'kvm_inj_exception').events[0]).toMatchObject({ vector: 13, errorCode: 0x18 });
    expect(one('#UD', 'kvm_inj_exception').events[0]).toMatchObject({ vector: 6, errorCode: null });
    expect(one('#PF (0x2) [reinjected]', 'kvm_inj_exception').events[0]).toMatchObject({
      vector: 14,
      reinjected: true,
    });
    expect(one('0x15 (0x0)', 'kvm_inj_exception').events[0]).toMatchObject({ vector: 0x15 });
  });

  it('kvm_nested_vmexit: the kvm_exit format (newer) and "rip: .. reason: .. ext_int: .." (older)', () => {
    const n = one(
      'vcpu 0 reason NMI_WINDOW rip 0x401000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0',
      'kvm_nested_vmexit',
    ).events[0];
    expect(n.exit).toMatchObject({ name: 'NMI_WINDOW', code: 8 });
    const o = one(
      'rip: 0x0000000000401000 reason: EXTERNAL_INTERRUPT ext_inf1: 0x0000000000000000 ext_inf2: 0x0000000000000000 ext_int: 0x800000ec ext_int_err: 0x00000000',
      'kvm_nested_vmexit',
    ).events[0];
    expect(o).toMatchObject({ rip: '0x0000000000401000', intrInfo: 0x800000ec, errorCode: 0 });
    expect(o.exit).toMatchObject({ name: 'EXTERNAL_INTERRUPT', code: 1 });
  });

  it('kvm_nested_vmexit_inject, kvm_nested_intr_vmexit, kvm_nested_vmenter (VMX and SVM) and kvm_nested_vmrun', () => {
    const inj = one(
      'reason: EXTERNAL_INTERRUPT ext_inf1: 0x0 ext_inf2: 0x0 ext_int: 0x800000ec ext_int_err: 0x0',
      'kvm_nested_vmexit_inject',
    ).events[0];
    expect(inj).toMatchObject({ kind: 'kvm_nested_vmexit_inject', intrInfo: 0x800000ec });
    expect(inj.exit?.code).toBe(1);
    expect(one('rip: 0x0000000000401004', 'kvm_nested_intr_vmexit').events[0]).toMatchObject({
      rip: '0x0000000000401004',
    });
    const vmx = one(
      'rip: 0xffffffffc0a1b3e0 vmcs: 0x0000000112345000 nested_rip: 0x0000000000401000 int_ctl: 0x00000000 event_inj: 0x80000202 nested_ept: on',
      'kvm_nested_vmenter',
    ).events[0];
    expect(vmx).toMatchObject({
      intrInfo: 0x80000202,
      fields: { vmcs: '0x0000000112345000', nested_ept: 'on' },
    });
    const svm = one(
      'rip: 0x1 vmcb: 0x2 nested_rip: 0x3 int_ctl: 0x01000000 event_inj: 0x00000000 nested_npt: off',
      'kvm_nested_vmenter',
    ).events[0];
    expect(svm.fields).toMatchObject({ vmcb: '0x2', nested_npt: 'off' });
    const vmrun = one(
      'rip: 0x000000000000a000 vmcb: 0x0000000001234000 nrip: 0x0000000000401000 int_ctl: 0x00000000 event_inj: 0x80000b0e npt: on',
      'kvm_nested_vmrun',
    ).events[0];
    expect(vmrun).toMatchObject({
      kind: 'kvm_nested_vmenter',
      intrInfo: 0x80000b0e,
      fields: { nested_npt: 'on' },
    });
  });

  it('reads tracefs lines with the flags column, and "kvm:" prefixed names; skips other tracepoints', () => {
    const t = parseTraceCmd(
      [
        '       CPU 0/KVM-2001    [001] d..1.   812.000100: kvm_entry: vcpu 0, rip 0x1',
        '  qemu-system-x86-77 [000]  1.000001: kvm:kvm_inj_virq: irq 32',
        '  qemu-system-x86-77 [000]  1.000002: kvm_pio: pio_write at 0x80 size 1 count 1 val 0x0',
      ].join('\n'),
    );
    expect(t.problems).toEqual([]);
    expect(t.events.map((e) => [e.kind, e.task, e.pid])).toEqual([
      ['kvm_entry', 'CPU 0/KVM', 2001],
      ['kvm_inj_virq', 'qemu-system-x86', 77],
    ]);
    expect(t.skipped).toEqual({ kvm_pio: 1 });
  });
});

describe('fixtures', () => {
  it('VMX trace-cmd report: vCPUs from the events, and injections attributed to their task', () => {
    const t = parseTraceCmd(fixture('kvm-vmx.trace-cmd.txt'));
    expect(t.problems).toEqual([]);
    expect(t.events).toHaveLength(23);
    expect(t.events.filter((e) => e.kind === 'kvm_inj_virq').map((e) => e.vcpu)).toEqual([0, 1, 0]);
    const s = summarizeImport(t);
    expect(s.byKind).toMatchObject({ kvm_entry: 8, kvm_exit: 6, kvm_inj_virq: 3, kvm_inj_exception: 2 });
    expect(s.exitsByReason).toEqual({
      'EXTERNAL_INTERRUPT (1)': 2,
      'EXCEPTION_NMI (0)': 1,
      'INTERRUPT_WINDOW (7)': 1,
      'VMRESUME (24)': 1,
      'NMI_WINDOW (8)': 1,
    });
    expect(s.nestedExitsByReason).toEqual({ 'NMI_WINDOW (8)': 1 });
    expect(s.vcpus.map((v) => [v.vcpu, v.events, v.exits])).toEqual([
      [0, 19, 5],
      [1, 4, 1],
    ]);
  });

  it('the event list is read-only', () => {
    const t = parseTraceCmd(fixture('kvm-vmx.trace-cmd.txt'));
    expect(Object.isFrozen(t.events)).toBe(true);
    expect(Object.isFrozen(t.events[0])).toBe(true);
    expect(() => {
      (t.events[0] as { vcpu: number }).vcpu = 9;
    }).toThrow();
  });

  it('both fixtures export as valid trace-event JSON with vCPU threads and paired flows', () => {
    for (const name of ['kvm-vmx.trace-cmd.txt', 'kvm-svm.trace.txt']) {
      const file = JSON.parse(JSON.stringify(importToPerfetto(parseTraceCmd(fixture(name)), name)));
      expect(checkTraceEvents(file)).toEqual([]);
      const names = file.traceEvents
        .filter((e: { name: string }) => e.name === 'thread_name')
        .map((e: { args: { name: string } }) => e.args.name);
      expect(names).toContain('vCPU 0 · KVM');
      expect(names).toContain('vCPU 0 · guest');
    }
    const vmx = importToPerfetto(parseTraceCmd(fixture('kvm-vmx.trace-cmd.txt')), 'x').traceEvents;
    expect(vmx.filter((e) => e.ph === 'X' && e.cat === 'exit').map((e) => e.name)).toContain(
      'INTERRUPT_WINDOW (7)',
    );
    expect(vmx.filter((e) => e.ph === 'i').map((e) => e.name)).toContain('inject exception #GP');
  });
});

describe('malformed lines', () => {
  it('are reported with their line numbers, and the rest is still read', () => {
    const t = parseTraceCmd(fixture('kvm-malformed.trace.txt'));
    expect(t.problems.map((p) => p.line)).toEqual([2, 3, 5]);
    expect(t.problems[0].message).toMatch(/not a trace line/);
    expect(t.problems[1].message).toMatch(/^kvm_exit: expected "vcpu N reason NAME rip/);
    expect(t.problems[2].message).toBe('kvm_inj_exception: unknown exception #ZZ, got "#ZZ (0x0)"');
    expect(t.events.map((e) => [e.line, e.kind])).toEqual([
      [1, 'kvm_entry'],
      [4, 'kvm_inj_virq'],
      [6, 'kvm_entry'],
    ]);
  });

  it('headers, comments and blank lines are not problems', () => {
    expect(parseTraceCmd('cpus=4\n# tracer: nop\n\nCPU 2 is empty\n').problems).toEqual([]);
  });
});
