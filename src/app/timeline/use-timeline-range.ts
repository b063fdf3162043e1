// The worker's aggregates of the timeline's visible range (SimApi.timelineRange), kept in
// step with the zoom: at most one request in flight; when it returns and the view has moved
// meanwhile, the range wanted now is asked for next. A range is asked for with half a view
// of margin either side, so a pan draws from what is held until the next answer arrives, and
// is asked for again when the view leaves it or the zoom changes its resolution by half.
import { useEffect, useRef, useState } from 'react';
import type { RangeAxis, TimelineRange } from '../../core/engine/timeline-range';
import type { SimClient } from '../../worker/protocol';

export interface RangeWant {
  axis: RangeAxis;
  /** The visible range of the axis. */
  d0: number;
  d1: number;
  /** Its width in pixels. */
  pixels: number;
  lanes: number;
}

/** Whether `held` can draw `want`: the same axis and lanes, covering it, at about its resolution. */
export function rangeServes(held: TimelineRange | null, want: RangeWant): boolean {
  if (!held || held.axis !== want.axis || held.lanes !== want.lanes) return false;
  if (want.d0 < held.t0 || want.d1 > held.t1) return false;
  const heldPerPx = (held.t1 - held.t0) / held.pixels;
  const wantPerPx = (want.d1 - want.d0) / Math.max(1, want.pixels);
  return wantPerPx > 0 && heldPerPx / wantPerPx < 1.5 && wantPerPx / heldPerPx < 1.5;
}

/** The request for `want`: half a view of margin either side, at the view's resolution. */
export function rangeRequest(want: RangeWant) {
  const span = want.d1 - want.d0;
  const pixels = Math.max(1, Math.round(want.pixels));
  return {
    axis: want.axis,
    t0: want.d0 - span / 2,
    t1: want.d1 + span / 2,
    pixels: pixels * 2,
    lanes: want.lanes,
    view: [want.d0, want.d1] as [number, number],
  };
}

export function useTimelineRange(
  client: Pick<SimClient, 'timelineRange'>,
  /** Changes with every new run (the timeline data's identity): what is held is dropped. */
  run: unknown,
  want: RangeWant | null,
): TimelineRange | null {
  const [held, setHeld] = useState<{ run: unknown; range: TimelineRange } | null>(null);
  const wantRef = useRef(want);
  const runRef = useRef(run);
  const busy = useRef(false);
  const heldRef = useRef<TimelineRange | null>(null);
  useEffect(() => {
    wantRef.current = want;
    runRef.current = run;
  });

  const current = held && held.run === run ? held.range : null;
  useEffect(() => {
    heldRef.current = current;
  });

  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  useEffect(() => {
    if (!want || !run || busy.current || rangeServes(current, want)) return;
    const pump = async () => {
      busy.current = true;
      try {
        for (;;) {
          const w = wantRef.current;
          const r = runRef.current;
          if (!w || !r || !alive.current) return;
          if (heldRef.current && rangeServes(heldRef.current, w)) return;
          const answer = await client.timelineRange(rangeRequest(w));
          if (!alive.current) return;
          if (r !== runRef.current) continue; // a new run meanwhile: ask again for it
          heldRef.current = answer;
          setHeld({ run: r, range: answer });
        }
      } catch {
        // The worker restarted (its client reports that); the next change asks again.
      } finally {
        busy.current = false;
      }
    };
    void pump();
  }, [client, run, want, current]);
  return current;
}
