// Above the lanes: the axis (steps or cycles), "fit" to undo zoom and pan, folding the trapped
// round trips of a nested run, how much of the run is in view, and the legend.
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectFoldTrapped, selectTimeAxis, selectTimeline, selectTimelineZoom } from '../store/selectors';
import { TimelineLegend } from './TimelineLegend';

export function TimelineToolbar({
  eventsInView,
  foldable,
}: {
  eventsInView: number;
  /** Trapped round trips the run has (the fold toggle is shown when there are any). */
  foldable: number;
}) {
  const store = useLabStoreApi();
  const fold = useLab(selectFoldTrapped);
  const axis = useLab(selectTimeAxis);
  const zoom = useLab(selectTimelineZoom);
  const data = useLab(selectTimeline);
  return (
    <div className="timeline-toolbar">
      <span className="timeline-title">Timeline</span>
      <div className="segmented" role="group" aria-label="Time axis">
        <button
          type="button"
          className={`seg${axis === 'step' ? ' on' : ''}`}
          aria-pressed={axis === 'step'}
          data-testid="timeline-axis-step"
          onClick={() => store.getState().setTimeAxis('step')}
        >
          steps
        </button>
        <button
          type="button"
          className={`seg${axis === 'cycles' ? ' on' : ''}`}
          aria-pressed={axis === 'cycles'}
          data-testid="timeline-axis-cycles"
          onClick={() => store.getState().setTimeAxis('cycles')}
        >
          cycles
        </button>
      </div>
      <button
        type="button"
        className="btn btn-small"
        data-testid="timeline-fit"
        disabled={zoom.k === 1 && zoom.x === 0}
        title="Show the whole run"
        onClick={() => store.getState().setTimelineZoom({ k: 1, x: 0 })}
      >
        Fit
      </button>
      {foldable > 0 && (
        // A switch, not a checkbox: the step keys keep working after a click on it.
        <button
          type="button"
          role="switch"
          aria-checked={fold}
          className={`param-toggle timeline-fold${fold ? ' on' : ''}`}
          data-testid="timeline-fold"
          title={`Fold the ${foldable} round trips in which the levels below a guest handle its trapped instruction (VMREAD, VMWRITE, VMPTRLD, RDMSR, ...) themselves: each run becomes a small mark on the guest's lane, its count in the tooltip. The step keys still stop at every step.`}
          onClick={() => store.getState().setFoldTrapped(!fold)}
        >
          <span className="param-toggle-knob" aria-hidden="true" />
          fold trapped instructions
        </button>
      )}
      <span
        className="timeline-status"
        title="Wheel to zoom, drag to pan, click or drag the playhead to go to a step"
        data-testid="timeline-status"
      >
        {zoom.k > 1 ? `×${zoom.k.toFixed(zoom.k < 10 ? 1 : 0)} · ` : ''}
        {data ? `${eventsInView.toLocaleString('en-US')} events in view` : 'loading…'}
      </span>
      <TimelineLegend />
    </div>
  );
}
