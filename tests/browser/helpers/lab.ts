// What every browser test shares: a `test` that fails on console errors and page errors,
// opening the lab, reading what the level panel shows, and what it should show for a
// StepView from the command line.
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import type { StepView } from '../../../src/core/engine/view';

export { expect };

/** Console errors and uncaught page errors, from every page of the test's context. */
export class PageProblems {
  readonly problems: string[] = [];
  private readonly allowed: RegExp[] = [];

  constructor(context: BrowserContext) {
    context.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const url = msg.location().url ?? '';
      // The preview server has no favicon; the browser asks for one anyway.
      if (/favicon\.ico$/.test(url) || (/404/.test(msg.text()) && /favicon/.test(url))) return;
      this.problems.push(`console.error: ${msg.text()}${url ? ` (${url})` : ''}`);
    });
    context.on('weberror', (err) => this.problems.push(`page error: ${err.error().message}`));
  }

  /** Errors a test provokes on purpose (the crash hook). */
  allow(pattern: RegExp): void {
    this.allowed.push(pattern);
  }

  unexpected(): string[] {
    return this.problems.filter((p) => !this.allowed.some((re) => re.test(p)));
  }
}

export const test = base.extend<{ pageProblems: PageProblems }>({
  pageProblems: [
    async ({ context }, use) => {
      const problems = new PageProblems(context);
      await use(problems);
      expect(problems.unexpected(), 'console errors or page errors').toEqual([]);
    },
    { auto: true },
  ],
});

/** Waits until the page holds the view of `step` and shows it. */
export async function waitForStep(page: Page, step: number): Promise<void> {
  await expect(page.getByTestId('step-counter')).toHaveText(new RegExp(`^step ${step} / \\d+$`));
  await page.waitForFunction((s) => window.__nestlab?.store.getState().view?.step === s, step);
}

/** The step the page is on (from the counter), once its view has arrived. */
export async function currentStep(page: Page): Promise<number> {
  const text = (await page.getByTestId('step-counter').textContent()) ?? '';
  const m = /^step (\d+) \/ (\d+)$/.exec(text.trim());
  if (!m) throw new Error(`unreadable step counter: '${text}'`);
  const step = Number(m[1]);
  await waitForStep(page, step);
  return step;
}

export async function totalSteps(page: Page): Promise<number> {
  const text = (await page.getByTestId('step-counter').textContent()) ?? '';
  const m = /^step \d+ \/ (\d+)$/.exec(text.trim());
  if (!m) throw new Error(`unreadable step counter: '${text}'`);
  return Number(m[1]);
}

/**
 * Opens the lab (optionally at a path such as `/#s=...`) and waits for the first view.
 * Keys are sent to the page body: the app's key handler is on the window.
 */
export async function openLab(page: Page, path = '/'): Promise<void> {
  await page.goto(path);
  await expect(page.getByTestId('step-counter')).toHaveText(/^step 0 \/ [1-9]\d*$/);
  await waitForStep(page, 0);
  await expect(page.getByTestId('level-0')).toBeVisible();
}

/** Picks a built-in in the picker, as a user does, and waits for its run at step 0. */
export async function pickScenario(page: Page, name: string, totalSteps: number): Promise<void> {
  await page.getByTestId('scenario-picker').selectOption(name);
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${totalSteps}`);
  await waitForStep(page, 0);
  await blur(page);
}

/** Takes the focus away from a field (a select keeps arrow keys for itself), as a click elsewhere would. */
export async function blur(page: Page): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}

/** Presses a key with the focus on nothing that would keep it (the body). */
export async function press(page: Page, key: string, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await page.keyboard.press(key);
}

// ---------------------------------------------------------------------------------------
// The level panel as shown, and as the CLI's StepView says it should be.

export interface PanelState {
  counter: string;
  cycles: string;
  activityBadge: string;
  rip: string;
  nextInstruction: string;
  rflags: string;
  ifText: string;
  ifOn: string | null;
  tfOn: string | null;
  sti: string | null;
  movss: string | null;
  nmiBlocking: string | null;
  activity: string;
  pendingNmi: string;
  pendingIntr: string;
  tsc: string;
  handlerDepth: string;
  nmiDepth: string;
  nmiDepthAlert: string | null;
  workRemaining: string | null;
  irr: number[];
  isr: number[];
  tpr: string;
  ppr: string;
  regs: Record<string, string>;
  explanation: string;
  cite: string | null;
  eventChip: string;
  sourceLine: number | null;
}

/** Reads the panel, the transport's position, the explanation and the source's current line. */
export function readPanel(page: Page): Promise<PanelState> {
  return page.evaluate(() => {
    const panel = document.querySelector('[data-testid="level-0"]');
    if (!panel) throw new Error('no level-0 panel');
    const q = (id: string, root: ParentNode = panel) => root.querySelector(`[data-testid="${id}"]`);
    const text = (id: string, root: ParentNode = panel) => q(id, root)?.textContent?.trim() ?? '<missing>';
    const attr = (id: string, name: string) => q(id)?.getAttribute(name) ?? null;
    const vectors = (id: string) =>
      Array.from(q(id)?.querySelectorAll('[data-vector]') ?? []).map((el) =>
        Number(el.getAttribute('data-vector')),
      );
    const regs: Record<string, string> = {};
    for (const el of Array.from(panel.querySelectorAll('[data-testid^="reg-"]'))) {
      regs[el.getAttribute('data-testid')!.slice(4)] = el.textContent?.trim() ?? '';
    }
    const current = document.querySelector('[data-testid="source-view"] [data-current="true"]');
    return {
      counter: text('step-counter', document),
      cycles: text('time-cycles', document),
      activityBadge: panel.querySelector('.activity-badge')?.textContent?.trim() ?? '<missing>',
      rip: text('rip'),
      nextInstruction: text('next-instruction'),
      rflags: text('rflags'),
      ifText: text('rflags-if'),
      ifOn: attr('rflags-if', 'data-on'),
      tfOn: attr('rflags-tf', 'data-on'),
      sti: attr('intr-sti', 'data-on'),
      movss: attr('intr-movss', 'data-on'),
      nmiBlocking: attr('intr-nmi', 'data-on'),
      activity: text('activity'),
      pendingNmi: text('pending-nmi'),
      pendingIntr: text('pending-intr'),
      tsc: text('tsc'),
      handlerDepth: text('handler-depth'),
      nmiDepth: text('nmi-depth'),
      nmiDepthAlert: attr('nmi-depth', 'data-alert'),
      workRemaining: q('work-remaining') ? text('work-remaining') : null,
      irr: vectors('apic-irr'),
      isr: vectors('apic-isr'),
      tpr: text('apic-tpr'),
      ppr: text('apic-ppr'),
      regs,
      explanation: text('explanation-text', document),
      cite: q('explanation-cite', document) ? text('explanation-cite', document) : null,
      eventChip: document.querySelector('.explanation .event-chip')?.textContent?.trim() ?? '<missing>',
      sourceLine: current ? Number(current.getAttribute('data-line')) : null,
    };
  });
}

// Written here from the StepView on their own, not with the app's formatters: a test that
// borrowed them would agree with any mistake they make.
const hex16 = (n: number) => '0x' + n.toString(16).padStart(16, '0');
const hex2 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const TYPE_NAMES: Record<number, string> = {
  0: 'external interrupt',
  2: 'NMI',
  3: 'hardware exception',
  4: 'software interrupt',
  5: 'privileged software exception',
  6: 'software exception',
};

export function expectedPanel(view: StepView, level = 0): PanelState {
  const l = view.levels[level];
  const c = l.cpu;
  const ev = view.event;
  let chip = 'initial state';
  if (ev) {
    chip = `L${ev.level} · ${ev.kind}`;
    if (ev.data.type !== undefined && TYPE_NAMES[ev.data.type]) chip += ` · ${TYPE_NAMES[ev.data.type]}`;
    if (ev.data.vector !== undefined && ev.data.vector >= 0) chip += ` · vector ${hex2(ev.data.vector)}`;
  }
  return {
    counter: `step ${view.step} / ${view.totalSteps}`,
    cycles: `${grouped(view.time)} cycles`,
    activityBadge: c.activity,
    rip: hex16(c.rip),
    nextInstruction: l.nextInstruction ?? '—',
    rflags: '0x' + c.rflags.toString(16),
    ifText: `IF=${c.if ? 1 : 0}`,
    ifOn: String(c.if),
    tfOn: String(c.tf),
    sti: String(c.interruptibility.sti),
    movss: String(c.interruptibility.movss),
    nmiBlocking: String(c.interruptibility.nmi),
    activity: c.activity,
    pendingNmi: c.pending.nmi ? 'yes' : 'no',
    pendingIntr: c.pending.intr === null ? 'none' : hex2(c.pending.intr),
    tsc: grouped(c.tsc),
    handlerDepth: String(c.handlerDepth),
    nmiDepth: c.nmiDepth >= 2 ? `${c.nmiDepth}nested NMI` : String(c.nmiDepth),
    nmiDepthAlert: c.nmiDepth >= 2 ? 'true' : null,
    workRemaining: c.workRemaining > 0 ? grouped(c.workRemaining) : null,
    irr: l.apic.irr,
    isr: l.apic.isr,
    tpr: hex2(l.apic.tpr),
    ppr: hex2(l.apic.ppr),
    regs: Object.fromEntries(c.regs.map((r) => [r.name.toLowerCase(), r.value])),
    explanation: view.explanation.text,
    cite: view.explanation.cite,
    eventChip: chip,
    sourceLine: l.line,
  };
}

/** Polls the page until it shows `view` (the CLI's), field for field. */
export async function expectPanelToShow(page: Page, view: StepView, message?: string): Promise<void> {
  await expect
    .poll(() => readPanel(page), {
      message: message ?? `the page shows the CLI's view of step ${view.step}`,
      timeout: 5_000,
    })
    .toEqual(expectedPanel(view));
}

/** Test ids of the level-0 fields marked as changed. */
export function changedFields(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid="level-0"] [data-changed="true"][data-testid]'))
      .map((el) => el.getAttribute('data-testid')!)
      .sort(),
  );
}

/** The fields that differ between two views: what the panel should mark as changed. */
export function expectedChanged(before: StepView, after: StepView, level = 0): string[] {
  const p = before.levels[level];
  const c = after.levels[level];
  const out: string[] = [];
  const mark = (id: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(id);
  };
  mark('rip', p.cpu.rip, c.cpu.rip);
  mark('rflags', p.cpu.rflags, c.cpu.rflags);
  mark('rflags-if', p.cpu.if, c.cpu.if);
  mark('rflags-tf', p.cpu.tf, c.cpu.tf);
  mark('intr-sti', p.cpu.interruptibility.sti, c.cpu.interruptibility.sti);
  mark('intr-movss', p.cpu.interruptibility.movss, c.cpu.interruptibility.movss);
  mark('intr-nmi', p.cpu.interruptibility.nmi, c.cpu.interruptibility.nmi);
  mark('activity', p.cpu.activity, c.cpu.activity);
  mark('pending-nmi', p.cpu.pending.nmi, c.cpu.pending.nmi);
  mark('pending-intr', p.cpu.pending.intr, c.cpu.pending.intr);
  mark('tsc', p.cpu.tsc, c.cpu.tsc);
  mark('handler-depth', p.cpu.handlerDepth, c.cpu.handlerDepth);
  mark('nmi-depth', p.cpu.nmiDepth, c.cpu.nmiDepth);
  // The field is drawn only while some work is left.
  if (c.cpu.workRemaining > 0) mark('work-remaining', p.cpu.workRemaining, c.cpu.workRemaining);
  const before0 = new Map(p.cpu.regs.map((r) => [r.name, r.value]));
  for (const r of c.cpu.regs) mark(`reg-${r.name.toLowerCase()}`, before0.get(r.name), r.value);
  mark('apic-tpr', p.apic.tpr, c.apic.tpr);
  mark('apic-ppr', p.apic.ppr, c.apic.ppr);
  mark('apic-irr', [...p.apic.irr].sort(), [...c.apic.irr].sort());
  mark('apic-isr', [...p.apic.isr].sort(), [...c.apic.isr].sort());
  return out.sort();
}
