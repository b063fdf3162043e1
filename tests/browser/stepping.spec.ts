// Stepping through a run with the keys (→ ← Home End n N space) and the transport buttons.
// At a delivery, an IRET and a step where an event waits because it is blocked, the page
// shows exactly what `sim <name> --at N --json` says, and marks as changed exactly the
// fields that differ from step N-1.
import type { StepView } from '../../src/core/engine/view';
import {
  changedFields,
  currentStep,
  expect,
  expectedChanged,
  expectPanelToShow,
  openLab,
  pickScenario,
  press,
  test,
  waitForStep,
} from './helpers/lab';
import { cliTrace, cliView, cliViews, stepsOf, type Trace } from './helpers/oracle';

interface Target {
  what: string;
  step: number;
  /** What the oracle must show there for the step to be the one meant (guards the choice). */
  check: (view: StepView) => void;
}

const cpu = (v: StepView) => v.levels[0].cpu;

/** The interesting steps of each built-in, found in its trace. */
const TARGETS: Record<string, (t: Trace) => Target[]> = {
  'sti-hlt-shadow': (t) => [
    {
      what: 'the timer IRQ raised while IF=0',
      step: stepsOf(t, 'raise')[0],
      check: (v) => {
        expect(cpu(v).if).toBe(false);
        expect(v.levels[0].apic.irr).toEqual([0x20]);
      },
    },
    {
      what: 'the delivery that wakes HLT',
      step: stepsOf(t, 'delivery')[0],
      check: (v) => expect(v.event?.data.wokeFromHlt).toBe(1),
    },
    {
      what: 'the IRET back to the idle loop',
      step: stepsOf(t, 'iret')[0],
      check: (v) => expect(cpu(v).if).toBe(true),
    },
  ],
  'nmi-blocking': (t) => {
    const nmiDeliveries = stepsOf(t, 'delivery', (e) => e.data.type === 2);
    return [
      {
        what: 'the NMI raised inside the NMI handler (blocked by NMI)',
        step: stepsOf(t, 'raise', (e) => e.data.type === 2 && e.step > nmiDeliveries[0])[0],
        check: (v) => {
          expect(cpu(v).interruptibility.nmi).toBe(true);
          expect(cpu(v).pending.nmi).toBe(true);
        },
      },
      {
        what: 'the IRET that ends NMI blocking',
        step: stepsOf(t, 'iret')[0],
        check: (v) => {
          expect(cpu(v).interruptibility.nmi).toBe(false);
          expect(cpu(v).pending.nmi).toBe(true);
        },
      },
      {
        what: 'the second NMI delivery',
        step: nmiDeliveries[1],
        check: (v) => expect(cpu(v).interruptibility.nmi).toBe(true),
      },
    ];
  },
  'apic-priority': (t) => {
    const deliveries = stepsOf(t, 'delivery');
    return [
      {
        // `sti; nop`, then the delivery: after STI, IF=1 but blocking by STI holds all three.
        what: 'three IRQs waiting in the IRR under blocking by STI',
        step: deliveries[0] - 2,
        check: (v) => {
          expect(cpu(v).interruptibility.sti).toBe(true);
          expect(v.levels[0].apic.irr.length).toBe(3);
        },
      },
      {
        what: 'the delivery of 0x61, the only class above the TPR',
        step: deliveries[0],
        check: (v) => expect(v.event?.data.vector).toBe(0x61),
      },
      {
        what: 'the IRET with 0x51 still held back by the TPR',
        step: stepsOf(t, 'iret')[0],
        check: (v) => expect(v.levels[0].apic.irr).toContain(0x51),
      },
    ];
  },
};

for (const name of Object.keys(TARGETS)) {
  test(`${name}: keys → ← n N Home End reach a delivery, an IRET and a blocked event, as the CLI shows them`, async ({
    page,
  }) => {
    const trace = await cliTrace(name);
    const targets = TARGETS[name](trace).sort((a, b) => a.step - b.step);
    const deliveries = stepsOf(trace, 'delivery');
    // Ask the CLI for every view needed while the browser opens.
    const wanted = [0, trace.totalSteps, ...targets.flatMap((t) => [t.step - 1, t.step])];
    const viewsReady = cliViews(name, wanted).then((vs) => new Map(vs.map((v) => [v.step, v])));

    await openLab(page);
    if (name !== 'sti-hlt-shadow') await pickScenario(page, name, trace.totalSteps);
    const views = await viewsReady;
    await expectPanelToShow(page, views.get(0)!);

    let at = 0;
    for (const target of targets) {
      const view = views.get(target.step)!;
      const before = views.get(target.step - 1)!;
      target.check(view);
      await test.step(`${target.what} (step ${target.step})`, async () => {
        // Deliveries are reached with n, one delivery at a time; other steps with → or ←.
        if (deliveries.includes(target.step) && target.step > at) {
          await press(page, 'n', deliveries.filter((d) => d > at && d <= target.step).length);
        } else if (target.step > at) {
          await press(page, 'ArrowRight', target.step - at);
        } else if (target.step < at) {
          await press(page, 'ArrowLeft', at - target.step);
        }
        await waitForStep(page, target.step);
        await expectPanelToShow(page, view);
        await expect.poll(() => changedFields(page)).toEqual(expectedChanged(before, view));
        await expect(page.getByTestId('playhead')).toHaveAttribute('data-step', String(target.step));

        // One step back and forward again: the step before, then this one, changes and all.
        await press(page, 'ArrowLeft');
        await waitForStep(page, target.step - 1);
        await expectPanelToShow(page, before);
        await press(page, 'ArrowRight');
        await waitForStep(page, target.step);
        await expectPanelToShow(page, view);
        await expect.poll(() => changedFields(page)).toEqual(expectedChanged(before, view));
      });
      at = target.step;
    }

    await test.step('End, N, Home', async () => {
      await press(page, 'End');
      await waitForStep(page, trace.totalSteps);
      await expectPanelToShow(page, views.get(trace.totalSteps)!);
      await expect(page.getByTestId('btn-step-forward')).toBeDisabled();
      await expect(page.getByTestId('btn-end')).toBeDisabled();
      // → at the end stays at the end.
      await press(page, 'ArrowRight');
      await expect(page.getByTestId('step-counter')).toHaveText(
        `step ${trace.totalSteps} / ${trace.totalSteps}`,
      );

      // N goes back delivery by delivery: twice from the end lands on the one before last.
      const back = Math.min(2, deliveries.length);
      await press(page, 'N', back);
      await waitForStep(page, deliveries[deliveries.length - back]);
      await expect(page.getByTestId('event-chip')).toContainText('delivery');

      await press(page, 'Home');
      await waitForStep(page, 0);
      await expectPanelToShow(page, views.get(0)!);
      await expect(page.getByTestId('btn-step-back')).toBeDisabled();
      // ← at step 0 stays at step 0.
      await press(page, 'ArrowLeft');
      await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
    });
  });
}

test('the transport buttons step, jump and go delivery by delivery (nmi-blocking)', async ({ page }) => {
  const trace = await cliTrace('nmi-blocking');
  const deliveries = stepsOf(trace, 'delivery');
  const [d1, d2] = deliveries;
  const viewsReady = cliViews('nmi-blocking', [d2, d2 + 1, d1]);

  await openLab(page);
  await pickScenario(page, 'nmi-blocking', trace.totalSteps);
  const [v2, v2next, v1] = await viewsReady;

  await page.getByTestId('btn-next-delivery').click();
  await waitForStep(page, d1);
  await page.getByTestId('btn-next-delivery').click();
  await waitForStep(page, d2);
  await expectPanelToShow(page, v2);

  await page.getByTestId('btn-step-forward').click();
  await waitForStep(page, d2 + 1);
  await expectPanelToShow(page, v2next);
  await page.getByTestId('btn-step-back').click();
  await page.getByTestId('btn-step-back').click();
  await waitForStep(page, d2 - 1);

  await page.getByTestId('btn-prev-delivery').click();
  await waitForStep(page, d1);
  await expectPanelToShow(page, v1);

  await page.getByTestId('btn-end').click();
  await waitForStep(page, trace.totalSteps);
  await expect(page.getByTestId('btn-end')).toBeDisabled();
  await expect(page.getByTestId('btn-step-forward')).toBeDisabled();
  await page.getByTestId('btn-start').click();
  await waitForStep(page, 0);
  await expect(page.getByTestId('btn-start')).toBeDisabled();
});

test('space plays and pauses; the paused step shows what the CLI shows (apic-priority)', async ({ page }) => {
  const trace = await cliTrace('apic-priority');
  await openLab(page);
  await pickScenario(page, 'apic-priority', trace.totalSteps);
  await page.getByTestId('speed-select').selectOption('64');
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());

  await press(page, ' ');
  // It moves on its own...
  await expect
    .poll(async () =>
      Number(/step (\d+)/.exec((await page.getByTestId('step-counter').textContent()) ?? '')?.[1]),
    )
    .toBeGreaterThanOrEqual(10);
  await press(page, ' ');
  // ...and stops where it was paused: at the step the playhead had moved to when the pause came
  // (its view may still be on its way from the worker, so the counter can be one tick behind).
  const paused = await page.evaluate(() => window.__nestlab!.store.getState().step);
  await waitForStep(page, paused);
  expect(paused).toBeLessThan(trace.totalSteps);
  await page.waitForTimeout(300);
  expect(await currentStep(page)).toBe(paused);
  await expectPanelToShow(page, await cliView('apic-priority', paused));

  // Played to the end, it stops there.
  await press(page, ' ');
  await waitForStep(page, trace.totalSteps);
  await page.waitForTimeout(200);
  await expect(page.getByTestId('step-counter')).toHaveText(`step ${trace.totalSteps} / ${trace.totalSteps}`);
});
