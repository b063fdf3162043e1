// (i) The timeline in a browser: frame intervals while zooming and panning with 10^5 events
// in view, and the time from a key press to the painted step. Headless Debian Chromium
// (/usr/bin/chromium, software rendering: --disable-gpu) at 1280×800, driven by the
// Playwright library against `vite preview` on a port of its own. Builds dist/ first when it
// is missing or older than the sources. Skips with a message when Chromium is absent.
//
// Frame intervals are the differences between successive requestAnimationFrame timestamps
// while a scripted gesture runs (60 Hz display: an idle frame is 16.7 ms; a frame that takes
// longer than that shows as a longer interval).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type CDPSession, type Page } from 'playwright';

const CHROMIUM = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
const PORT = Number(process.env.BENCH_PORT ?? 4199);
const ROOT = resolve(import.meta.dirname, '..');
/** Where the page under test comes from (BENCH_DIST: another build, e.g. main's, to compare). */
const DIST = process.env.BENCH_DIST ?? join(ROOT, 'dist');

type Row = [string, string, string];

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = st.mtimeMs;
  for (const name of readdirSync(path)) t = Math.max(t, newest(join(path, name)));
  return t;
}

/** Builds dist/ when it is missing or older than src/, index.html or the Vite config. */
function ensureBuilt(): void {
  if (process.env.BENCH_DIST) return;
  const built = existsSync(join(DIST, 'index.html')) ? statSync(join(DIST, 'index.html')).mtimeMs : 0;
  const sources = Math.max(
    newest(join(ROOT, 'src')),
    newest(join(ROOT, 'index.html')),
    newest(join(ROOT, 'vite.config.ts')),
  );
  if (built >= sources) return;
  console.error('bench: building the app (dist/ is missing or stale)…');
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('vite build failed');
}

async function startPreview(): Promise<ChildProcess> {
  const args = ['preview', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort', '--outDir', DIST];
  // The local vite itself (not through npx, whose child would outlive a kill of npx).
  const vite = join(ROOT, 'node_modules', '.bin', 'vite');
  const child = existsSync(vite)
    ? spawn(vite, args, { cwd: ROOT, stdio: 'ignore' })
    : spawn('npx', ['vite', ...args], { cwd: ROOT, stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${PORT}/`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`vite preview exited (port ${PORT} taken?)`);
    try {
      if ((await fetch(url)).ok) return child;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  stopPreview(child);
  throw new Error('vite preview did not start');
}

function stopPreview(child: ChildProcess): void {
  // Through npx (detached, its own process group): end the group, vite included.
  if (child.spawnargs[0] === 'npx' && child.pid) process.kill(-child.pid);
  else child.kill();
}

function availableCores(): number {
  return availableParallelism();
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

/** base64url of UTF-8, as the app's links carry a custom scenario (src/app/share.ts). */
function base64url(text: string): string {
  return Buffer.from(text, 'utf8')
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

async function startFrames(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __framesOn: boolean };
    w.__frames = [];
    w.__framesOn = true;
    const tick = (t: number) => {
      w.__frames.push(t);
      if (w.__framesOn) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

async function stopFrames(page: Page): Promise<number[]> {
  const times = await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __framesOn: boolean };
    w.__framesOn = false;
    return w.__frames;
  });
  const out: number[] = [];
  for (let i = 1; i < times.length; i++) out.push(times[i] - times[i - 1]);
  return out.sort((a, b) => a - b);
}

/** The renderer's main-thread busy time so far (ms): tasks run (script, style, layout, paint). */
async function busyMs(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return (metrics.find((m) => m.name === 'TaskDuration')?.value ?? 0) * 1000;
}

function frameRow(name: string, intervals: number[], busy: number, note: string): Row {
  const p95 = percentile(intervals, 0.95);
  const max = intervals[intervals.length - 1] ?? NaN;
  const long = intervals.filter((d) => d > 25).length;
  const perFrame = busy / Math.max(1, intervals.length);
  return [
    name,
    `${p95.toFixed(1)} ms`,
    `${note}; max ${max.toFixed(0)} ms, ${long} of ${intervals.length} frames over 25 ms; main thread busy ${perFrame.toFixed(1)} ms a frame; target p95 < 16.7 ms`,
  ];
}

export async function timelineBrowserBenchmarks(): Promise<Row[]> {
  if (!existsSync(CHROMIUM)) {
    console.error(`bench: ${CHROMIUM} is absent; the browser benchmarks (i) are skipped`);
    return [['(i) timeline in the browser', 'skipped', `${CHROMIUM} is absent`]];
  }
  ensureBuilt();
  const server = await startPreview();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const rows: Row[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // tsx compiles the functions passed to page.evaluate with esbuild's keepNames helper.
    await page.addInitScript('window.__name = (f) => f');
    const doc = readFileSync(join(ROOT, 'bench/dense-timer.json'), 'utf8');
    const FROM = 100_000;
    const TO = 200_000;
    await page.goto(`http://127.0.0.1:${PORT}/#v=1&s=${base64url(doc)}&step=${FROM}&zoom=${FROM}-${TO}`);
    await page.waitForFunction(
      (s) => {
        const st = (
          window as unknown as { __nestlab?: { store: { getState(): { view?: { step: number } | null } } } }
        ).__nestlab?.store.getState();
        return st?.view?.step === s;
      },
      FROM,
      { timeout: 120_000 },
    );
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const svg = page.getByTestId('timeline-svg');
    const box = (await svg.boundingBox())!;
    const cx = box.x + box.width * 0.55;
    const cy = box.y + box.height * 0.4;
    await page.waitForTimeout(1500);
    const total = await page.evaluate(
      () =>
        (
          window as unknown as { __nestlab: { store: { getState(): { info: { totalSteps: number } } } } }
        ).__nestlab.store.getState().info.totalSteps,
    );

    // Wheel zoom: in, then back out, around the middle of the 10^5 events.
    await page.mouse.move(cx, cy);
    const load = loadavg()[0];
    let busy0 = await busyMs(cdp);
    await startFrames(page);
    for (let i = 0; i < 30; i++) {
      await page.mouse.wheel(0, -60);
      await page.waitForTimeout(16);
    }
    for (let i = 0; i < 30; i++) {
      await page.mouse.wheel(0, 60);
      await page.waitForTimeout(16);
    }
    await page.waitForTimeout(100);
    const zoomFrames = await stopFrames(page);
    rows.push(
      frameRow(
        '(i) zoom (wheel), frame interval p95',
        zoomFrames,
        (await busyMs(cdp)) - busy0,
        `${(TO - FROM).toLocaleString('en-US')} of ${total.toLocaleString('en-US')} events in view at the start; load average ${load.toFixed(1)} on ${availableCores()} cores`,
      ),
    );

    // Drag pan: 60 moves of 8 px left, then back.
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    busy0 = await busyMs(cdp);
    await startFrames(page);
    for (let i = 0; i < 60; i++) {
      await page.mouse.move(cx - (i + 1) * 8, cy);
      await page.waitForTimeout(8);
    }
    for (let i = 60; i > 0; i--) {
      await page.mouse.move(cx - (i - 1) * 8, cy);
      await page.waitForTimeout(8);
    }
    await page.waitForTimeout(100);
    const pan = await stopFrames(page);
    const panBusy = (await busyMs(cdp)) - busy0;
    await page.mouse.up();
    rows.push(frameRow('(i) pan (drag), frame interval p95', pan, panBusy, '8-px moves'));

    // Key press to painted step: ArrowRight 30 times; for each, the time from the keydown to
    // the first animation frame in which the step counter, the playhead and the level panel
    // all show the new step (that frame paints it), and how many frames that took.
    await page.evaluate(() => document.body.focus());
    const keyTimes: number[] = [];
    const keyFrames: number[] = [];
    let split = 0;
    for (let i = 0; i < 30; i++) {
      const r = await page.evaluate(
        () =>
          new Promise<{ ms: number; frames: number; split: boolean }>((done) => {
            const counter = () => document.querySelector('[data-testid="step-counter"]')?.textContent ?? '';
            const step = () => Number(/step (\d+)/.exec(counter())?.[1] ?? -1);
            const before = step();
            const want = before + 1;
            let t0 = 0;
            let frames = 0;
            let counterFrame = -1;
            let headFrame = -1;
            const onKey = (e: KeyboardEvent) => {
              t0 = e.timeStamp;
              window.removeEventListener('keydown', onKey, true);
              const check = () => {
                frames++;
                const st = (
                  window as unknown as {
                    __nestlab: { store: { getState(): { view?: { step: number } | null } } };
                  }
                ).__nestlab.store.getState();
                const head = Number(
                  document.querySelector('[data-testid="playhead"]')?.getAttribute('data-step') ?? -1,
                );
                if (step() === want && counterFrame < 0) counterFrame = frames;
                if (head === want && headFrame < 0) headFrame = frames;
                if (counterFrame > 0 && headFrame > 0 && st.view?.step === want) {
                  done({ ms: performance.now() - t0, frames, split: counterFrame !== headFrame });
                } else requestAnimationFrame(check);
              };
              requestAnimationFrame(check);
            };
            window.addEventListener('keydown', onKey, true);
            window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
          }),
      );
      keyTimes.push(r.ms);
      keyFrames.push(r.frames);
      if (r.split) split++;
      await page.waitForTimeout(50);
    }
    keyTimes.sort((a, b) => a - b);
    keyFrames.sort((a, b) => a - b);
    rows.push([
      '(i) key press to painted step, median',
      `${percentile(keyTimes, 0.5).toFixed(1)} ms`,
      `target < 20 ms; 30 presses of ArrowRight; p95 ${percentile(keyTimes, 0.95).toFixed(1)} ms; median ${percentile(keyFrames, 0.5)} frame(s); counter and playhead in different frames ${split} times`,
    ]);
  } finally {
    await browser.close();
    stopPreview(server);
  }
  return rows;
}

// Run alone: npx tsx bench/timeline-browser.ts
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'timeline-browser.ts')) {
  const rows = await timelineBrowserBenchmarks();
  for (const [a, b, c] of rows) console.log(`${a.padEnd(40)}  ${b.padStart(9)}  ${c}`);
}
