// The program of a level, with line numbers; the line of the instruction at RIP is marked
// and kept in view as the steps go by. When another level runs the same program (a
// hypervisor and its guest in one file, kvm-unit-tests style), that level's line is marked
// too, with where it stands (a waiting host at HOST_RIP, a waiting guest at GUEST_RIP).
import { memo, useEffect, useMemo, useRef } from 'react';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectInfo, selectShownSourceLevel, selectSourceLevel, selectView } from '../store/selectors';
import { tokenizeAsmLine } from './asm-highlight';

const SourceLine = memo(function SourceLine({
  number,
  text,
  current,
  inactive,
  others,
}: {
  number: number;
  text: string;
  current: boolean;
  inactive: boolean;
  /** Other levels whose next instruction is on this line, e.g. "L0 · resumes at HOST_RIP". */
  others: string | null;
}) {
  const tokens = useMemo(() => tokenizeAsmLine(text), [text]);
  return (
    <div
      className={`src-line${current ? ' current' : ''}${inactive ? ' inactive' : ''}${others ? ' other-lane' : ''}`}
      data-line={number}
      data-current={current || undefined}
      data-inactive={inactive || undefined}
      data-other={others ?? undefined}
      title={inactive ? 'Left out by .if for the current parameters' : undefined}
      aria-current={current ? 'step' : undefined}
    >
      <span className="src-gutter" aria-hidden="true">
        <span className="src-marker">{current ? '▶' : others ? '▷' : ''}</span>
        <span className="src-number">{number}</span>
      </span>
      <code className="src-code">
        {tokens.map((t, i) =>
          t.kind === 'plain' ? (
            t.text
          ) : (
            <span key={i} className={`tok-${t.kind}`}>
              {t.text}
            </span>
          ),
        )}
        {text === '' ? ' ' : null}
      </code>
      {others && <span className="src-other-tag">{others}</span>}
    </div>
  );
});

function LevelTabs() {
  const store = useLabStoreApi();
  const info = useLab(selectInfo);
  const pinned = useLab(selectSourceLevel);
  const shown = useLab(selectShownSourceLevel);
  const withSource = info?.levels.filter((l) => l.source !== '') ?? [];
  if (withSource.length < 2) return null;
  return (
    <div className="source-levels" role="group" aria-label="Level shown">
      <button
        type="button"
        className={`seg${pinned === null ? ' on' : ''}`}
        onClick={() => store.getState().setSourceLevel(null)}
        title="Show the level that runs in this step"
      >
        follow
      </button>
      {withSource.map((l) => (
        <button
          key={l.index}
          type="button"
          className={`seg${pinned === l.index ? ' on' : ''}${shown === l.index ? ' shown' : ''}`}
          onClick={() => store.getState().setSourceLevel(l.index)}
        >
          L{l.index}
        </button>
      ))}
    </div>
  );
}

export function SourceView() {
  const info = useLab(selectInfo);
  const view = useLab(selectView);
  const levelIndex = useLab(selectShownSourceLevel);
  const scroller = useRef<HTMLDivElement>(null);

  const level = info?.levels.find((l) => l.index === levelIndex) ?? info?.levels[0];
  const lines = useMemo(() => (level ? level.source.split('\n') : []), [level]);
  const inactive = useMemo(() => new Set(level?.inactiveLines ?? []), [level]);
  const currentLine = view?.levels.find((l) => l.index === level?.index)?.line ?? null;
  const others = useMemo(() => {
    const out = new Map<number, string>();
    if (!view || !info || !level) return out;
    for (const l of view.levels) {
      const same = info.levels.find((i) => i.index === l.index)?.source === level.source;
      if (l.index === level.index || !same || l.line === null) continue;
      const where = l.cpu.running
        ? 'runs here'
        : l.svm
          ? 'resumes here'
          : l.cpu.mode === 'non-root'
            ? 'resumes here (GUEST_RIP)'
            : 'resumes here (HOST_RIP)';
      const tag = `L${l.index} ${where}`;
      out.set(l.line, out.has(l.line) ? `${out.get(l.line)}, ${tag}` : tag);
    }
    return out;
  }, [view, info, level]);

  // Keep the current line in view, with a few lines of context around it.
  useEffect(() => {
    const box = scroller.current;
    const el = box?.querySelector<HTMLElement>(`[data-line="${currentLine}"]`);
    if (!box || !el) return;
    const margin = 3 * el.offsetHeight;
    const top = el.offsetTop; // .source-lines is the offset parent (position: relative)
    if (top < box.scrollTop + margin || top > box.scrollTop + box.clientHeight - margin) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }, [currentLine, level]);

  if (!level) return <div className="empty">No program loaded.</div>;
  const runner = view?.levels.find((l) => l.cpu.running);
  const state =
    runner && runner.index !== level.index ? `waits while L${runner.index} runs` : runner ? 'running' : null;
  return (
    <div className="source-view">
      <div className="source-head">
        <span className="source-title">{level.name}</span>
        <span className="source-next" data-testid="source-next">
          {currentLine === null ? 'RIP outside the program' : `line ${currentLine}`}
          {state && info && info.levels.length > 1 && <span className="source-state"> · {state}</span>}
        </span>
        <LevelTabs />
      </div>
      <div className="source-lines" ref={scroller} data-testid="source-view" data-level={level.index}>
        {lines.map((text, i) => (
          <SourceLine
            key={i}
            number={i + 1}
            text={text}
            current={currentLine === i + 1}
            inactive={inactive.has(i + 1)}
            others={others.get(i + 1) ?? null}
          />
        ))}
      </div>
    </div>
  );
}
