// Above the lanes: the axis (steps or cycles), "fit" to undo zoom and pan, how much of the
// run is in view, and the legend.
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectTimeAxis, selectTimeline, selectTimelineZoom } from '../store/selectors';
import { TimelineLegend } from './TimelineLegend';

export function TimelineToolbar({ eventsInView }: { eventsInView: number }) {
  const store = useLabStoreApi();
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
