// The explanation of a fork's edit event: which edits the user made after which step, with the
// value before and after, so the step view says "edited by the user" and not what the model did.
import { showValue, targetValue } from '../engine/search-targets';
import type { SimState } from '../engine/machine';
import type { Explanation } from '../engine/view';
import type { ForkPlan } from './fork-apply';
import type { CompiledScenario } from './load';

export function explainEdit(
  c: CompiledScenario,
  plan: ForkPlan,
  group: number,
  prev: SimState,
  cur: SimState,
): Explanation {
  const edits = plan.groups[group] ?? [];
  const parts = edits.map((e) => {
    const t = e.target;
    if (t.w === 'vmcs' || t.w === 'reg') {
      const before = showValue(targetValue(c, prev, t));
      const after = showValue(targetValue(c, cur, t));
      return `${t.label}: ${before} → ${after}`;
    }
    if (t.w === 'irr') return `${t.label} ${e.value ? 'set' : 'cleared'}`;
    if (t.w === 'nmi')
      return e.value
        ? `an NMI raised at L${t.level}'s interrupt controller`
        : `L${t.level}'s NMI latch cleared`;
    return `interrupt vector 0x${e.value.toString(16)} raised at L${t.level}'s interrupt controller`;
  });
  const list = edits.map((e) => `${e.index + 1} (${e.text})`).join(', ');
  return {
    text: `Edited by the user (fork edit${edits.length === 1 ? '' : 's'} ${list}): ${parts.join('; ')}. The run goes on from the edited state: the steps after this one are the fork's alternative future, not the scenario's.`,
    cite: null,
  };
}
