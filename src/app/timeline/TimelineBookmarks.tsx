// The draft's bookmarks on the timeline: a small flag above the axis at each bookmarked step,
// its name and note in the tooltip; a click goes there (a jump).
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectBookmarks, selectTimeAxis } from '../store/selectors';
import { type AxisOverlayProps, xOfStep } from './timeline-scale';

export function TimelineBookmarks({ scale, data, y, x0, x1 }: AxisOverlayProps) {
  const store = useLabStoreApi();
  const bookmarks = useLab(selectBookmarks);
  const axis = useLab(selectTimeAxis);
  if (bookmarks.length === 0) return null;
  return (
    <g className="timeline-bookmarks">
      {bookmarks.map((b, i) => {
        const x = xOfStep(axis, scale, data, b.step);
        if (x < x0 - 1 || x > x1 + 1) return null;
        return (
          <g
            key={`${b.step}:${i}`}
            className="timeline-bookmark"
            data-testid="timeline-bookmark"
            data-step={b.step}
            transform={`translate(${x}, ${y})`}
            onClick={(e) => {
              e.stopPropagation();
              store.getState().seek(b.step, { jump: true });
            }}
          >
            <title>{`Bookmark at step ${b.step}: ${b.name}${b.note ? `\n${b.note}` : ''}`}</title>
            <path d="M-4 -11h8v9l-4 -3l-4 3z" />
          </g>
        );
      })}
    </g>
  );
}
