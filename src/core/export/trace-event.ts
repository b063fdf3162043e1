// The Chrome trace-event JSON format (the "Trace Event Format" document), as Perfetto UI and
// chrome://tracing read it: a builder for the few phases the exporters use.
//   M  metadata (process_name, thread_name, thread_sort_index)
//   X  complete event: a slice with ts and dur
//   i  instant event, scope s = 't' (thread)
//   s / f  flow start and flow end (v1 flows; f with bp 'e' binds to the enclosing slice)
// Timestamps and durations are microseconds (floating point allowed).

export type TraceEventPhase = 'M' | 'X' | 'i' | 's' | 'f';

export interface TraceEvent {
  name: string;
  ph: TraceEventPhase;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  s?: 't' | 'p' | 'g';
  id?: number;
  bp?: 'e';
  args?: Record<string, unknown>;
}

export interface TraceEventFile {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ns' | 'ms';
  /** Free-form metadata (Perfetto shows it under "Info and stats"). */
  otherData: Record<string, string | number | boolean>;
}

/** Rounds to a picosecond: keeps the JSON short without losing a cycle at any TSC rate. */
const round = (us: number): number => Math.round(us * 1e6) / 1e6;

export class TraceEventBuilder {
  readonly events: TraceEvent[] = [];
  private nextFlow = 1;

  constructor(readonly pid = 1) {}

  process(name: string): void {
    this.events.push({ name: 'process_name', ph: 'M', pid: this.pid, tid: 0, args: { name } });
  }

  thread(tid: number, name: string, sortIndex: number): void {
    this.events.push({ name: 'thread_name', ph: 'M', pid: this.pid, tid, args: { name } });
    this.events.push({
      name: 'thread_sort_index',
      ph: 'M',
      pid: this.pid,
      tid,
      args: { sort_index: sortIndex },
    });
  }

  slice(
    tid: number,
    name: string,
    cat: string,
    ts: number,
    end: number,
    args?: Record<string, unknown>,
  ): void {
    const t = round(ts);
    this.events.push({
      name,
      cat,
      ph: 'X',
      pid: this.pid,
      tid,
      ts: t,
      dur: Math.max(0, round(end) - t),
      args,
    });
  }

  instant(tid: number, name: string, cat: string, ts: number, args?: Record<string, unknown>): void {
    this.events.push({ name, cat, ph: 'i', s: 't', pid: this.pid, tid, ts: round(ts), args });
  }

  /** A flow arrow from the slice enclosing `fromTs` on `fromTid` to the one enclosing `toTs`. */
  flow(name: string, cat: string, fromTid: number, fromTs: number, toTid: number, toTs: number): void {
    const id = this.nextFlow++;
    this.events.push({ name, cat, ph: 's', id, pid: this.pid, tid: fromTid, ts: round(fromTs) });
    this.events.push({ name, cat, ph: 'f', bp: 'e', id, pid: this.pid, tid: toTid, ts: round(toTs) });
  }

  file(otherData: TraceEventFile['otherData'], displayTimeUnit: 'ns' | 'ms' = 'ns'): TraceEventFile {
    return { traceEvents: this.events, displayTimeUnit, otherData };
  }
}
