// A checker for trace-event JSON as the exporters write it, after the Trace Event Format
// document and what Perfetto's JSON importer needs: required fields per phase, flows whose
// ids pair one start with one end, slices that nest on each thread, named threads.
// Returns the problems found (empty when the file is well formed).

const PHASES = new Set(['M', 'X', 'i', 's', 'f', 'B', 'E', 'C']);
const METADATA = new Set(['process_name', 'thread_name', 'thread_sort_index', 'process_sort_index']);

type Ev = Record<string, unknown>;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown): v is number => isNum(v) && Number.isInteger(v);

export function checkTraceEvents(file: unknown): string[] {
  const problems: string[] = [];
  if (typeof file !== 'object' || file === null || !Array.isArray((file as Ev).traceEvents))
    return ['the file is not an object with a traceEvents array'];
  const events = (file as { traceEvents: unknown[] }).traceEvents;
  const named = new Set<string>();
  const used = new Set<string>();
  const slices = new Map<string, { ts: number; end: number }[]>();
  const flows = new Map<number, { s?: Ev; f?: Ev }>();
  events.forEach((raw, i) => {
    const at = `event ${i}`;
    if (typeof raw !== 'object' || raw === null) return problems.push(`${at}: not an object`);
    const e = raw as Ev;
    const ph = e.ph;
    if (typeof ph !== 'string' || !PHASES.has(ph)) return problems.push(`${at}: unknown phase ${String(ph)}`);
    if (typeof e.name !== 'string' || e.name === '') problems.push(`${at}: no name`);
    if (!isInt(e.pid) || !isInt(e.tid)) problems.push(`${at}: pid and tid must be integers`);
    const thread = `${String(e.pid)}:${String(e.tid)}`;
    if (ph === 'M') {
      const args = e.args as Ev | undefined;
      const name = String(e.name);
      if (!METADATA.has(e.name as string)) problems.push(`${at}: unknown metadata ${String(e.name)}`);
      else if (name.endsWith('_name') && typeof args?.name !== 'string')
        problems.push(`${at}: ${String(e.name)} without args.name`);
      else if (name.endsWith('_sort_index') && !isInt(args?.sort_index))
        problems.push(`${at}: ${String(e.name)} without an integer args.sort_index`);
      if (e.name === 'thread_name') named.add(thread);
      return;
    }
    used.add(thread);
    if (!isNum(e.ts) || e.ts < 0) problems.push(`${at}: ts must be a number ≥ 0`);
    if (ph === 'X') {
      if (!isNum(e.dur) || e.dur < 0) problems.push(`${at}: a complete event needs dur ≥ 0`);
      else {
        const list = slices.get(thread) ?? [];
        list.push({ ts: e.ts as number, end: (e.ts as number) + e.dur });
        slices.set(thread, list);
      }
    }
    if (ph === 'i' && !['t', 'p', 'g'].includes(e.s as string))
      problems.push(`${at}: instant scope s must be t, p or g`);
    if (ph === 's' || ph === 'f') {
      if (!isInt(e.id)) return problems.push(`${at}: a flow event needs an integer id`);
      if (typeof e.cat !== 'string') problems.push(`${at}: a flow event needs a cat`);
      const pair = flows.get(e.id) ?? {};
      if (pair[ph]) problems.push(`${at}: flow id ${e.id} has two '${ph}' events`);
      pair[ph] = e;
      flows.set(e.id, pair);
    }
  });
  for (const t of used) if (!named.has(t)) problems.push(`thread ${t} has events but no thread_name`);
  // Complete events on a thread must nest: sorted by start (longest first), each one ends
  // inside the slice that encloses its start.
  const EPS = 1e-6;
  for (const [thread, list] of slices) {
    list.sort((a, b) => a.ts - b.ts || b.end - a.end);
    const stack: { ts: number; end: number }[] = [];
    for (const s of list) {
      while (stack.length && stack[stack.length - 1].end <= s.ts + EPS) stack.pop();
      const top = stack[stack.length - 1];
      if (top && s.end > top.end + EPS) {
        problems.push(
          `thread ${thread}: slice [${s.ts}, ${s.end}] overlaps [${top.ts}, ${top.end}] without nesting`,
        );
        break;
      }
      stack.push(s);
    }
  }
  const inSlice = (e: Ev) =>
    (slices.get(`${String(e.pid)}:${String(e.tid)}`) ?? []).some(
      (s) => s.ts - EPS <= (e.ts as number) && (e.ts as number) <= s.end + EPS,
    );
  for (const [id, { s, f }] of flows) {
    if (!s || !f) {
      problems.push(`flow id ${id} has ${s ? 'no end (f)' : 'no start (s)'}`);
      continue;
    }
    if (s.name !== f.name || s.cat !== f.cat)
      problems.push(`flow id ${id}: start and end differ in name or cat`);
    if ((f.ts as number) < (s.ts as number)) problems.push(`flow id ${id} ends before it starts`);
    if (!inSlice(s)) problems.push(`flow id ${id} starts outside any slice of its thread`);
    if (!inSlice(f)) problems.push(`flow id ${id} ends outside any slice of its thread`);
  }
  return problems;
}
