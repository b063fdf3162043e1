// The top bar's "Compare" menu: "Compare with…" a parameter toggled (each parameter's other
// values), and "Fork here…": an edit of the state at the step on screen (target and value,
// checked by the worker before anything changes). See docs/compare.md.
import { useState, type FormEvent } from 'react';
import type { ParamInfo } from '../../core/engine/view';
import { useLab, useLabStoreApi } from '../sim-client-context';
import type { CompareSpec } from '../store/compare-types';
import { selectInfo, selectStep } from '../store/selectors';
import { Popover, usePopoverClose } from '../top-bar/Popover';
import { compareControllerFor } from './compare-controller';

const paramText = (v: string | number | boolean) => (typeof v === 'boolean' ? (v ? '1' : '0') : String(v));

/** The values a parameter can be compared with: the other boolean, the other choices. */
function otherValues(p: ParamInfo): (string | number | boolean)[] {
  if (p.type === 'boolean') return [!p.value];
  if (p.choices?.length) return p.choices.filter((c) => c !== p.value);
  return [];
}

/** Targets offered in the fork form (any name the search engine resolves is accepted). */
const TARGET_HINTS = [
  'GUEST_INTERRUPTIBILITY_INFO.NMI',
  'GUEST_INTERRUPTIBILITY_INFO.STI',
  'GUEST_RFLAGS.9',
  'PIN_BASED_VM_EXEC_CONTROL.VIRTUAL_NMIS',
  'CPU_BASED_VM_EXEC_CONTROL.NMI_WINDOW_EXITING',
  'VM_ENTRY_INTR_INFO_FIELD',
  'RFLAGS.IF of L1',
  'RAX',
  'RIP',
  'blocking_by_nmi',
  'blocking_by_sti',
  'IRR[0x20]',
  'nmi of L0',
  'irq of L0',
];

function CompareItems() {
  const store = useLabStoreApi();
  const close = usePopoverClose();
  const info = useLab(selectInfo);
  const step = useLab(selectStep);
  const open = useLab((s) => s.compare !== null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [forkStep, setForkStep] = useState<string>(String(step));
  const [target, setTarget] = useState('');
  const [value, setValue] = useState('');

  const tryOpen = async (spec: CompareSpec) => {
    setBusy(true);
    const err = await compareControllerFor(store).prepare(spec);
    setBusy(false);
    if (err) {
      setError(err.message);
      return;
    }
    setError(null);
    store.getState().setCompare(spec);
    close();
  };

  const onFork = (e: FormEvent) => {
    e.preventDefault();
    if (!/^\d+$/.test(forkStep.trim())) {
      setError(`'${forkStep}' is not a step number`);
      return;
    }
    if (!target.trim() || !value.trim()) {
      setError('a fork edit needs a target and a value');
      return;
    }
    void tryOpen({ params: {}, edits: [`${forkStep.trim()}:${target.trim()}=${value.trim()}`] });
  };

  const params = info?.params ?? [];
  return (
    <div className="compare-menu-items">
      <section>
        <h4>Compare with…</h4>
        {params.length === 0 && <p className="muted">This scenario has no parameters to toggle.</p>}
        {params.flatMap((p) =>
          otherValues(p).map((v) => (
            <button
              key={`${p.key}=${String(v)}`}
              type="button"
              className="btn"
              disabled={busy}
              data-testid={`compare-with-${p.key}`}
              title={p.description}
              onClick={() => void tryOpen({ params: { [p.key]: paramText(v) }, edits: [] })}
            >
              {p.key} = {String(v)}
            </button>
          )),
        )}
      </section>
      <form className="fork-form" onSubmit={onFork} aria-label="Fork here">
        <h4>Fork here…</h4>
        <label>
          after step
          <input
            data-testid="fork-step"
            inputMode="numeric"
            value={forkStep}
            onChange={(e) => setForkStep(e.target.value)}
          />
        </label>
        <label>
          set
          <input
            data-testid="fork-target"
            list="fork-targets"
            placeholder="GUEST_INTERRUPTIBILITY_INFO.NMI"
            value={target}
            onChange={(e) => setTarget(e.target.value)}
          />
        </label>
        <datalist id="fork-targets">
          {TARGET_HINTS.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <label>
          to
          <input
            data-testid="fork-value"
            placeholder="0"
            value={value}
            onChange={(e) => setValue(e.target.value)}
          />
        </label>
        <button type="submit" className="btn" data-testid="fork-submit" disabled={busy}>
          Fork
        </button>
      </form>
      {error && (
        <p className="compare-error" role="alert" data-testid="compare-error">
          {error}
        </p>
      )}
      {open && (
        <button
          type="button"
          className="btn"
          onClick={() => {
            store.getState().setCompare(null);
            close();
          }}
        >
          Close compare
        </button>
      )}
    </div>
  );
}

export function CompareMenu() {
  const info = useLab(selectInfo);
  if (!info) return null;
  return (
    <Popover
      testId="compare-menu"
      className="compare-menu"
      title="Compare this run with a variant (a parameter toggled), or fork it at this step"
      label={
        <>
          <svg viewBox="0 0 14 12" width="12" height="11" aria-hidden="true">
            <path
              d="M1 3h10M8 0l3 3-3 3M13 9H3M6 6l-3 3 3 3"
              fill="none"
              stroke="currentColor"
              strokeWidth="1.5"
            />
          </svg>
          <span className="btn-text-wide">Compare</span>
        </>
      }
    >
      <CompareItems />
    </Popover>
  );
}
