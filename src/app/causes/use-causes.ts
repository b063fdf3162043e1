// The causes of the step on screen (docs/causes.md), asked of the worker once per step and
// shared by the explanation's "Why" list and the VMCS panels' deciding-bit marks.
import { useEffect, useState } from 'react';
import type { CausesView } from '../../core/causes/causes';
import type { ScenarioInfo } from '../../core/engine/view';
import type { SimClient } from '../../worker/protocol';
import { useLab, useSimClient } from '../sim-client-context';
import { selectInfo, selectView } from '../store/selectors';

/** Per loaded run (its info object is new at every load): the causes asked for, by step. */
const asked = new WeakMap<ScenarioInfo, Map<number, Promise<CausesView>>>();

function causesFor(client: SimClient, info: ScenarioInfo, step: number): Promise<CausesView> {
  let per = asked.get(info);
  if (!per) asked.set(info, (per = new Map()));
  let p = per.get(step);
  if (!p) {
    p = client.causes(step);
    // A failed request (a crashed worker) is asked again next time.
    p.catch(() => per.delete(step));
    if (per.size > 512) per.clear();
    per.set(step, p);
  }
  return p;
}

/** The causes of the step on screen, or null until they arrive. */
export function useCauses(): CausesView | null {
  const client = useSimClient();
  const info = useLab(selectInfo);
  const step = useLab(selectView)?.step ?? null;
  const [got, setGot] = useState<{ info: ScenarioInfo; causes: CausesView } | null>(null);
  useEffect(() => {
    if (!info || step === null) return;
    let live = true;
    causesFor(client, info, step).then(
      (causes) => live && setGot({ info, causes }),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [client, info, step]);
  return got && got.info === info && got.causes.step === step ? got.causes : null;
}
