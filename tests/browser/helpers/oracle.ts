// The oracle: the command line's view of a run. `tsx src/cli/main.ts <name> --at N --json`
// prints the StepView of step N, the same object the page shows; `--json` alone prints the
// whole trace. Answers are cached per process (the suite runs in one worker), and several
// can be asked for at once so that a test pays for its CLI runs in parallel.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type {
  AssertionView,
  ExpectedEndView,
  StepView,
  UnreachedAssertionView,
} from '../../../src/core/engine/view';

const run = promisify(execFile);

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** The local tsx binary when it is there (skips npx's start-up), else `npx tsx`. */
const LOCAL_TSX = join(REPO, 'node_modules', '.bin', 'tsx');
const TSX: [string, string[]] = existsSync(LOCAL_TSX) ? [LOCAL_TSX, []] : ['npx', ['tsx']];

export type Params = Record<string, string | number | boolean>;

export interface TraceEvent {
  step: number;
  time: number;
  level: number;
  kind: string;
  rip: number;
  data: Record<string, number>;
}

export interface Trace {
  scenario: string;
  params: Params;
  totalSteps: number;
  endTime: number;
  endReason: string;
  assertions: AssertionView[];
  assertionsNotReached: UnreachedAssertionView[];
  expectedEnd: ExpectedEndView | null;
  events: TraceEvent[];
}

const cache = new Map<string, Promise<unknown>>();

function setArgs(params: Params): string[] {
  return Object.entries(params).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]);
}

/** At most two CLI processes at a time (the machine has two cores, the browser needs one). */
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(job: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await job();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function tsx(args: string[]) {
  return limited(() =>
    run(TSX[0], [...TSX[1], 'src/cli/main.ts', ...args], {
      cwd: REPO,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    }),
  );
}

/** One CLI run. A file caught half-written by someone editing src/ is retried a few times. */
async function runOnce(args: string[]): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { stdout } = await tsx(args);
      return JSON.parse(stdout) as unknown;
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      // Exit status 1 (an assertion failed) still prints the JSON on stdout.
      if (e.code === 1 && e.stdout) return JSON.parse(e.stdout) as unknown;
      if (attempt < 3 && /TransformError|SyntaxError/.test(e.stderr ?? '')) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      throw new Error(`CLI ${args.join(' ')} failed (${e.code}): ${e.stderr ?? ''}`);
    }
  }
}

function cli(args: string[]): Promise<unknown> {
  const key = JSON.stringify(args);
  let answer = cache.get(key);
  if (!answer) {
    answer = runOnce(args);
    cache.set(key, answer);
  }
  return answer;
}

/** The whole trace of a built-in run: `sim <name> [--set k=v] --json`. */
export function cliTrace(name: string, params: Params = {}): Promise<Trace> {
  return cli([name, ...setArgs(params), '--json']) as Promise<Trace>;
}

/** The StepView of step `step`: `sim <name> [--set k=v] --at N --json`. */
export function cliView(name: string, step: number, params: Params = {}): Promise<StepView> {
  return cli([name, ...setArgs(params), '--at', String(step), '--json']) as Promise<StepView>;
}

/** Several views at once (the CLI runs in parallel, two at a time). */
export function cliViews(name: string, steps: number[], params: Params = {}): Promise<StepView[]> {
  return Promise.all(steps.map((s) => cliView(name, s, params)));
}

/** Steps of the run whose event is of `kind` (optionally filtered further). */
export function stepsOf(
  trace: Trace,
  kind: string,
  filter: (e: TraceEvent) => boolean = () => true,
): number[] {
  return trace.events.filter((e) => e.kind === kind && filter(e)).map((e) => e.step);
}

/** What the CLI says on stderr about a scenario it rejects (exit status 2). */
export async function cliError(target: string): Promise<string> {
  try {
    await tsx([target]);
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    if (e.code === 2) return e.stderr ?? '';
    throw err;
  }
  throw new Error(`the CLI accepted ${target}`);
}

/** The built-ins' names as `sim --list` gives them, in its order. */
export async function cliList(): Promise<string[]> {
  const { stdout } = await tsx(['--list']);
  return stdout
    .split('\n')
    .filter((l) => /^ {2}\S/.test(l))
    .map((l) => l.trim());
}
