// A scenario's parameters as controls: booleans as toggles, choices as selects, free numbers
// and strings as small fields. Changing one reloads the scenario with the new value.
//
// While the scenario reloads the controls are aria-disabled, not disabled, and keep their
// identity across the new value: a disabled or remounted control loses the keyboard focus, and
// the arrow keys would then step the run instead of moving through the select's choices.
import { useState } from 'react';
import type { ParamInfo } from '../../core/engine/view';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectInfo, selectLoading } from '../store/selectors';
import type { ParamValue } from '../store/types';

function ParamField({ param, disabled }: { param: ParamInfo; disabled: boolean }) {
  const store = useLabStoreApi();
  const set = (value: ParamValue) => {
    if (!disabled) void store.getState().setParam(param.key, value);
  };
  const id = `param-${param.key}`;

  if (param.type === 'boolean') {
    const on = param.value === true;
    return (
      <button
        type="button"
        role="switch"
        aria-checked={on}
        className={`param-toggle${on ? ' on' : ''}`}
        title={param.description}
        aria-disabled={disabled}
        data-testid={id}
        onClick={() => set(!on)}
      >
        <span className="param-toggle-knob" aria-hidden="true" />
        {param.key}
      </button>
    );
  }
  if (param.choices && param.choices.length > 0) {
    return (
      <label className="param-field" title={param.description + rangeHint(param)}>
        <span className="param-name">{param.key}</span>
        <select
          data-testid={id}
          value={String(param.value)}
          aria-disabled={disabled}
          onChange={(e) => {
            const choice = param.choices!.find((c) => String(c) === e.target.value);
            if (choice !== undefined) set(choice);
          }}
        >
          {param.choices.map((c) => (
            <option key={String(c)} value={String(c)}>
              {String(c)}
            </option>
          ))}
        </select>
      </label>
    );
  }
  return <FreeParamField param={param} disabled={disabled} onCommit={set} />;
}

/** " (1 to 5000)" for a number parameter with a range; the core refuses values outside it. */
function rangeHint(p: ParamInfo): string {
  if (p.min === undefined && p.max === undefined) return '';
  return ` (${p.min ?? '…'} to ${p.max ?? '…'})`;
}

function FreeParamField({
  param,
  disabled,
  onCommit,
}: {
  param: ParamInfo;
  disabled: boolean;
  onCommit: (value: ParamValue) => void;
}) {
  const [text, setText] = useState(String(param.value));
  // The value changed under the field (a reload, a link): show it (React's "adjust state
  // while rendering" pattern, so the field keeps its focus).
  const [shown, setShown] = useState(param.value);
  if (shown !== param.value) {
    setShown(param.value);
    setText(String(param.value));
  }
  const commit = () => {
    if (text === String(param.value)) return;
    if (param.type === 'number') {
      const n = Number(text);
      if (Number.isFinite(n)) onCommit(n);
      else setText(String(param.value));
    } else {
      onCommit(text);
    }
  };
  return (
    <label className="param-field" title={param.description + rangeHint(param)}>
      <span className="param-name">{param.key}</span>
      <input
        data-testid={`param-${param.key}`}
        className={param.type === 'number' ? 'param-number' : 'param-text'}
        value={text}
        aria-disabled={disabled}
        readOnly={disabled}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
        }}
      />
    </label>
  );
}

export function ScenarioParams() {
  const info = useLab(selectInfo);
  const loading = useLab(selectLoading);
  if (!info || info.params.length === 0) return null;
  return (
    <div className="scenario-params" aria-label="Scenario parameters" role="group">
      {info.params.map((p) => (
        <ParamField key={`${info.name}:${p.key}`} param={p} disabled={loading} />
      ))}
    </div>
  );
}
