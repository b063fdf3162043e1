// The command line: exit status (0 pass, 1 an assertion failed, 2 invalid or stopped), the
// summary, --json with the trace contract, --list and argument errors.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { STOP, scenarioDoc } from '../helpers';

/** A readFile that serves these files and fails for any other path. */
function files(map: Record<string, string>) {
  return (path: string) => {
    if (!(path in map)) throw new Error(`ENOENT: ${path}`);
    return map[path];
  };
}

describe('exit status', () => {
  it('0 for a built-in whose assertions pass, with a readable summary', () => {
    const r = runCli(['sti-hlt-shadow']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^nestlab · sti-hlt-shadow — /);
    expect(r.stdout).toContain('parameters: gap=false next_tick=200000');
    expect(r.stdout).toContain('L0 · kernel: 1 (external interrupt 0x20 ×1)');
    expect(r.stdout).toContain('assertions: 1 passed, 0 failed');
    expect(r.stdout).toMatch(/run: \d+ steps, \d+ cycles; halted with nothing left that could wake it/);
  });

  it('1 when an assertion fails (sti-hlt-shadow --set gap=true)', () => {
    const r = runCli(['sti-hlt-shadow', '--set', 'gap=true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('assertions: 0 passed, 1 failed');
    expect(r.stdout).toMatch(/ {2}FAIL {2}step \d+, L0 line \d+: the work was found less than 1000 cycles/);
    expect(runCli(['sti-hlt-shadow', '--set=gap=true']).code).toBe(1);
  });

  it('2 for a parameter outside its range, naming it (immediate-exit l2_loop=0 would loop 2^64 times)', () => {
    const r = runCli(['immediate-exit', '--set', 'l2_loop=0']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      "scenario error at params.l2_loop: parameter 'l2_loop' must be from 1 to 5000; got 0",
    );
    expect(runCli(['immediate-exit', '--set', 'l2_loop=1']).code).toBe(0);
  });

  it('1 when a run ends before the end its scenario expects (kut-intr-window under KVM stops at stage 7)', () => {
    const bare = runCli(['kut-intr-window']);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^end: reached tests_done \(L0 line \d+\) at step \d+$/m);
    const nested = runCli(['kut-intr-window', '--nest', 'kvm']);
    expect(nested.code).toBe(1);
    expect(nested.stderr).toBe('');
    expect(nested.stdout).toMatch(
      /^end: FAIL {2}the run ended at step \d+ before L1 line \d+ \(tests_done\), which limits\.expectEnd asks it to reach$/m,
    );
    expect(nested.stdout).toContain('assertions: 13 passed, 0 failed');
    const json = JSON.parse(runCli(['kut-intr-window', '--nest', 'kvm', '--json']).stdout);
    expect(json.expectedEnd).toMatchObject({ level: 1, label: 'tests_done', reached: false, step: null });
  });

  it('0 with a skip: listed as skip, counted apart, neither a pass nor a failure', () => {
    const doc = JSON.stringify({
      version: 1,
      name: 'skips',
      title: 'skips',
      description: 'a skip',
      arch: 'vmx',
      levels: [
        { kind: 'program', program: ['start: skip "no such feature"', 'assert rax == 0', 'cli', 'hlt'] },
      ],
    });
    const r = runCli(['s.json'], files({ 's.json': doc }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('assertions: 1 passed, 0 failed, 1 skipped');
    expect(r.stdout).toMatch(/^ {2}skip {2}step 1, L0 line 1: no such feature$/m);
    const json = JSON.parse(runCli(['s.json', '--json'], files({ 's.json': doc })).stdout);
    expect(json.assertions[0]).toMatchObject({ passed: false, skipped: true });
    expect(json.events[0]).toMatchObject({ kind: 'assert', data: { passed: 2 } });
  });

  it('lists the asserts a run never executed (a harness that stopped early under KVM)', () => {
    const bare = runCli(['kut-intr-window']);
    expect(bare.stdout).toContain('not reached: 1 (');
    expect(bare.stdout).toMatch(/ {2}- {5}L0 line \d+: VM entry failed/);
    const nested = runCli(['kut-intr-window', '--nest', 'kvm']);
    expect(nested.stdout).toMatch(/ {2}- {5}L1 line \d+: stage 7: interrupt-window exit from HLT/);
    expect(runCli(['sti-hlt-shadow']).stdout).not.toContain('not reached');
  });

  it('2 for a file that is not valid JSON, naming the line and column', () => {
    const r = runCli(['bad.json'], files({ 'bad.json': '{\n  "version": 1,\n  "name": x\n}' }));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^bad\.json: scenario error at line 3, column 11: the scenario is not valid JSON/,
    );
  });

  it('2 for a schema error, naming the field', () => {
    const doc = scenarioDoc(['start:', ...STOP], [{ at: { time: 1 }, irq: 3 }]);
    const r = runCli(['s.json'], files({ 's.json': JSON.stringify(doc) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^s\.json: scenario error at events\[0\]\.irq: /);
  });

  it('2 for a program error, naming the level, line and column', () => {
    const doc = scenarioDoc(['start:', 'nop', '  frob rax', ...STOP]);
    const r = runCli(['p.json'], files({ 'p.json': JSON.stringify(doc) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^p\.json: program error at L0 line 3, column 3: /);
  });

  it('2 for an unknown parameter', () => {
    const r = runCli(['nmi-blocking', '--set', 'nope=1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "nmi-blocking: scenario error at params.nope: unknown parameter 'nope'; this scenario has extra_nmi, sti_in_nmi\n",
    );
  });

  it('2 for a parameter value of the wrong type', () => {
    const r = runCli(['nmi-blocking', '--set', 'extra_nmi=perhaps']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/params\.extra_nmi: parameter 'extra_nmi' is a boolean/);
  });

  it('2 when the run hits a limit, with the summary on stdout and the reason on stderr', () => {
    const doc = scenarioDoc(['start:', 'jmp start'], [], { limits: { steps: 100 } });
    const r = runCli(['loop.json'], files({ 'loop.json': JSON.stringify(doc) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^loop\.json: limit error at L0, step 100: the run reached its step limit \(limits\.steps = 100\)/,
    );
    expect(r.stdout).toContain('run: 100 steps');
    expect(r.stdout).toContain('stopped at its step limit');
  });

  it('2 when the run stops on a run-time error', () => {
    const doc = scenarioDoc(['start:', 'nop']);
    const r = runCli(['x.json'], files({ 'x.json': JSON.stringify(doc) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/runtime error at L0, step 1: RIP 0x1001 is not the start of an instruction/);
  });

  it('2 for a file that cannot be read', () => {
    const r = runCli(['missing.json'], files({}));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /'missing\.json' is neither a built-in scenario \(see --list\) nor a readable file/,
    );
  });
});

describe('--json', () => {
  it('prints the whole trace: one event per step with step, time, level, kind, rip and data', () => {
    const r = runCli(['nmi-blocking', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      traceVersion: 1,
      scenario: 'nmi-blocking',
      params: { extra_nmi: false, sti_in_nmi: false },
      endReason: 'halted',
      runError: null,
    });
    expect(out.events).toHaveLength(out.totalSteps);
    out.events.forEach((e: Record<string, unknown>, i: number) => {
      expect(Object.keys(e).sort()).toEqual(['data', 'kind', 'level', 'rip', 'step', 'time']);
      expect(e.step).toBe(i + 1);
      expect(typeof e.time).toBe('number');
      expect(typeof e.rip).toBe('number');
    });
    const nmis = out.events.filter(
      (e: { kind: string; data: { type?: number } }) => e.kind === 'delivery' && e.data.type === 2,
    );
    expect(nmis).toHaveLength(2);
    expect(out.assertions).toHaveLength(2);
  });

  it('lists the asserts no level executed', () => {
    const out = JSON.parse(runCli(['kut-intr-window', '--json', '--nest', 'kvm']).stdout);
    const stage7 = out.assertionsNotReached.filter((a: { message: string }) =>
      a.message.startsWith('stage 7'),
    );
    expect(stage7.map((a: { level: number }) => a.level)).toEqual([1, 1, 1]);
    expect(JSON.parse(runCli(['nmi-blocking', '--json']).stdout).assertionsNotReached).toEqual([]);
  });

  it('applies --set and reports a failed assertion with exit 1', () => {
    const r = runCli(['--json', 'sti-hlt-shadow', '--set', 'gap=1']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.params.gap).toBe(true);
    expect(out.assertions[0].passed).toBe(false);
  });

  it('reads a file scenario given by path', () => {
    const text = JSON.stringify(findBuiltin('apic-priority'));
    const r = runCli(['a.json', '--json'], files({ 'a.json': text }));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const vectors = out.events
      .filter((e: { kind: string }) => e.kind === 'delivery')
      .map((e: { data: { vector: number } }) => e.data.vector);
    expect(vectors).toEqual([0x61, 0x51, 0x32]);
  });
});

describe('--list and arguments', () => {
  it('--list names every built-in with its parameters', () => {
    const r = runCli(['--list']);
    expect(r.code).toBe(0);
    for (const name of ['sti-hlt-shadow', 'nmi-blocking', 'apic-priority'])
      expect(r.stdout).toContain(`  ${name}\n`);
    expect(r.stdout).toContain('--set gap=false  (boolean)');
    expect(r.stdout).toContain('--set next_tick=200000  (number)');
    expect(r.stdout).toContain('--set extra_nmi=false  (boolean)');
    expect(r.stdout).toContain('--set sti_in_nmi=false  (boolean)');
    expect(r.stdout).toContain('--set tpr=80  (number, one of 0 48 80 96)');
    expect(r.stdout).toContain('--set forget_eoi=false  (boolean)');
  });

  it('--help prints the usage', () => {
    expect(runCli(['--help'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^usage: npm run sim/),
    });
  });

  it('argument errors exit 2 with the usage', () => {
    for (const args of [
      [],
      ['--set'],
      ['x', '--set', 'novalue'],
      ['--set=', 'x'],
      ['--bogus', 'x'],
      ['a', 'b'],
    ]) {
      const r = runCli(args, files({}));
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage: npm run sim/);
    }
  });
});

describe('--at', () => {
  it('prints the state after that step, as the app shows it', () => {
    const r = runCli(['nmi-blocking', '--at', '17', '--json']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v.step).toBe(17);
    expect(v.event.kind).toBe('raise');
    expect(v.levels[0].cpu.interruptibility.nmi).toBe(true);
    expect(v.levels[0].cpu.pending.nmi).toBe(true);
    expect(v.levels[0].apic.isr).toEqual([0x30]);
  });

  it('prints a readable dump without --json', () => {
    const r = runCli(['nmi-blocking', '--at', '17']);
    expect(r.stdout).toMatch(/^step 17 of \d+, time 3500 cycles/);
    expect(r.stdout).toMatch(/blocking: NMI/);
    expect(r.stdout).toMatch(/ISR 0x30/);
  });

  it('rejects a step past the end or a missing number with exit 2', () => {
    expect(runCli(['nmi-blocking', '--at', '100000']).code).toBe(2);
    expect(runCli(['nmi-blocking', '--at']).code).toBe(2);
    expect(runCli(['nmi-blocking', '--at', 'x']).code).toBe(2);
  });
});

describe('the summary', () => {
  it('counts an NMI injected through EVENTINJ as vector 2 (KVM writes the vector bits as 0)', () => {
    const r = runCli(['kvm-svm-nmi', '--set', 'vnmi=false']);
    expect(r.stdout).toMatch(/NMI 0x2 \(injected\) ×2/);
    expect(r.stdout).not.toMatch(/NMI 0x0/);
  });

  it('runs Xen under KVM, and KVM on KVM on SVM, from the command line (--nest kvm)', () => {
    const xen = runCli(['xen-svm-vnmi', '--nest', 'kvm']);
    expect(xen.code).toBe(0);
    expect(xen.stdout).toMatch(/levels: L0 · KVM \(kvm\), L1 · Xen \(xen\), L2 · HVM guest \(guest\)/);
    const kvm = runCli(['kvm-svm-nmi', '--nest', 'kvm']);
    expect(kvm.stdout).toMatch(/assertions: 3 passed, 0 failed/);
  });
});
