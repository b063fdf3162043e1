// The command line's --perfetto and --import: files written, the import summary, exit status.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main';
import { checkTraceEvents } from '../../../src/core/export/trace-event-check';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');

/** A file system in a map: reads the fixtures, keeps what is written. */
function fs() {
  const written: Record<string, string> = {};
  const read = (p: string) => {
    if (p in written) return written[p];
    if (p.startsWith('fixtures/')) return fixture(p.slice(9));
    throw new Error(`ENOENT: ${p}`);
  };
  const write = (p: string, text: string) => {
    if (p.startsWith('/readonly/')) throw new Error('EACCES');
    written[p] = text;
  };
  return { written, read, write };
}

describe('npm run sim -- NAME --perfetto out.json', () => {
  it('writes a valid trace-event file and still prints the summary', () => {
    const f = fs();
    const r = runCli(['soft-vnmi', '--perfetto', 'out.json'], f.read, f.write);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^nestlab · soft-vnmi/);
    expect(r.stdout).toMatch(/perfetto: wrote \d+ trace events to out\.json\n$/);
    const file = JSON.parse(f.written['out.json']);
    expect(checkTraceEvents(file)).toEqual([]);
    expect(file.otherData).toMatchObject({ scenario: 'soft-vnmi', tscHz: 2_000_000_000 });
  });

  it('--perfetto-clock cycles shows one cycle as one ns; other clocks are refused', () => {
    const f = fs();
    expect(
      runCli(['soft-vnmi', '--perfetto', 'c.json', '--perfetto-clock', 'cycles'], f.read, f.write).code,
    ).toBe(0);
    expect(JSON.parse(f.written['c.json']).otherData.clock).toBe('1 TSC cycle shown as 1 ns');
    const bad = runCli(['soft-vnmi', '--perfetto', 'c.json', '--perfetto-clock', 'ms'], f.read, f.write);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toMatch(/^--perfetto-clock takes tsc or cycles/);
  });

  it('exit status 2 with the reason when the file cannot be written, or the name is missing', () => {
    const f = fs();
    const r = runCli(['soft-vnmi', '--perfetto', '/readonly/x.json'], f.read, f.write);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('--perfetto /readonly/x.json: cannot write (EACCES)\n');
    expect(runCli(['soft-vnmi', '--perfetto'], f.read, f.write).stderr).toMatch(
      /^--perfetto needs a file name/,
    );
  });
});

describe('npm run sim -- --import trace.txt', () => {
  it('prints events per kind, exits per reason and per vCPU (exit status 0)', () => {
    const f = fs();
    const r = runCli(['--import', 'fixtures/kvm-vmx.trace-cmd.txt'], f.read, f.write);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^imported fixtures\/kvm-vmx.trace-cmd.txt: 23 KVM events/);
    expect(r.stdout).toMatch(/ {2}kvm_entry +8\n/);
    expect(r.stdout).toMatch(/ {2}EXTERNAL_INTERRUPT \(1\) +2\n/);
    expect(r.stdout).toContain('vCPU 1: 4 events, 1 exits (INTERRUPT_WINDOW (7) ×1)');
    expect(r.stdout).toContain('other tracepoints skipped: kvm_pio ×1');
  });

  it('SVM exits by their SVM names and codes', () => {
    const f = fs();
    const r = runCli(['--import', 'fixtures/kvm-svm.trace.txt'], f.read, f.write);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ {2}GP excp \(0x4d\) +1\n/);
    expect(r.stdout).toMatch(/ {2}vmrun \(0x80\) +1\n/);
  });

  it('--perfetto writes the imported trace as trace-event JSON', () => {
    const f = fs();
    const r = runCli(['--import', 'fixtures/kvm-svm.trace.txt', '--perfetto', 'svm.json'], f.read, f.write);
    expect(r.code).toBe(0);
    expect(checkTraceEvents(JSON.parse(f.written['svm.json']))).toEqual([]);
  });

  it('malformed lines: listed with file:line on stderr and in the summary, exit status 1', () => {
    const f = fs();
    const r = runCli(['--import', 'fixtures/kvm-malformed.trace.txt'], f.read, f.write);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(
      'fixtures/kvm-malformed.trace.txt:2: not a trace line ("TASK-PID [CPU] SECONDS: EVENT: ...")',
    );
    expect(r.stdout).toContain('3 line(s) not read:');
    expect(r.stdout).toMatch(/^imported .*: 3 KVM events/);
  });

  it('exit status 2: an unreadable file, a file with no KVM event, or a scenario given too', () => {
    const f = fs();
    expect(runCli(['--import', 'nope.txt'], f.read, f.write)).toEqual({
      code: 2,
      stdout: '',
      stderr: '--import nope.txt: cannot read the file\n',
    });
    f.written['empty.txt'] = '# tracer: nop\n';
    expect(runCli(['--import', 'empty.txt'], f.read, f.write).stderr).toMatch(/no KVM events/);
    expect(runCli(['soft-vnmi', '--import', 'empty.txt'], f.read, f.write).stderr).toMatch(
      /^--import reads a trace, not a scenario/,
    );
  });
});

describe('npm run sim -- --import trace.txt --search QUERY', () => {
  it('lists the matching events with their line numbers instead of the summary', () => {
    const f = fs();
    const r = runCli(
      ['--import', 'fixtures/kvm-vmx.trace-cmd.txt', '--search', 'kvm_inj_virq'],
      f.read,
      f.write,
    );
    expect(r.code).toBe(0);
    const out = r.stdout.trimEnd().split('\n');
    expect(out[0]).toBe("3 events match 'kvm_inj_virq'");
    expect(out.slice(1).map((l) => /line (\d+)/.exec(l)![1])).toEqual(['4', '11', '22']);
    expect(out[2]).toMatch(/^ {2}kvm_inj_virq \(line 11, 5123\.400402 s, vCPU 1\)/);
  });

  it('a query the trace cannot answer: status 2 and the reason', () => {
    const f = fs();
    const r = runCli(
      ['--import', 'fixtures/kvm-vmx.trace-cmd.txt', '--search', 'RFLAGS.IF'],
      f.read,
      f.write,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^--search: an imported trace has no change of state/);
  });
});
