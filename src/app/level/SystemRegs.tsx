// A level's control registers (CR0, CR3, CR4, CR8) and, once a program has used them, its debug
// registers DR7 and DR6. Each value has a hint naming the bits the lab models.
import type { CpuView } from '../../core/engine/view';
import { hexShort } from '../format';
import { Field } from './fields';
import type { ChangedFields } from './level-diff';

const DR6_INIT = 0xffff0ff0;
const DR7_INIT = 0x400;

const HINT = {
  cr0: 'CR0: PE (0), MP (1), ET (4), NE (5), WP (16), PG (31); in VMX operation PE, NE and PG stay 1',
  cr3: 'CR3: the page-table base (the lab has no page tables: only MOV CR3 and its VM exits see it)',
  cr4: 'CR4: DE (3), PAE (5), PCE (8), VMXE (13: needed by VMXON), PCIDE (17), ...',
  cr8: 'CR8: TPR[7:4] of the APIC this level sees',
  dr7: 'DR7: L0–L3/G0–G3 enable breakpoints 0–3, GD (13) general detect',
  dr6: 'DR6: B0–B3 (breakpoint hit), BD (13), BS (14: single-step)',
};

export function SystemRegs({ cpu, changed }: { cpu: CpuView; changed: ChangedFields }) {
  const r = cpu.system;
  if (!r) return null;
  const debugUsed = r.dr7 !== DR7_INIT || r.dr6 !== DR6_INIT;
  return (
    <div className="cpu-grid" aria-label="Control registers">
      {(['cr0', 'cr3', 'cr4', 'cr8'] as const).map((k) => (
        <Field key={k} label={k.toUpperCase()} testId={k} changed={changed.has(k)} hint={HINT[k]}>
          {hexShort(r[k])}
        </Field>
      ))}
      {debugUsed &&
        (['dr7', 'dr6'] as const).map((k) => (
          <Field key={k} label={k.toUpperCase()} testId={k} changed={changed.has(k)} hint={HINT[k]}>
            {hexShort(r[k])}
          </Field>
        ))}
    </div>
  );
}
