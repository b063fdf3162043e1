// The compare view's state in the page store (docs/compare.md): what the other side is. It lives
// in the store so that the link carries it; the other side's run is in a second worker
// (src/app/compare/compare-controller.ts).

/** The other side: the run on screen with these parameters changed and these edits made. */
export interface CompareSpec {
  /** Parameter values that differ from the run on screen, as a link writes them (`1`, `0x20`, `2008`). */
  params: Record<string, string>;
  /** A fork's edits, each `STEP:TARGET=VALUE`. */
  edits: string[];
}

export interface CompareValues {
  /** The compare view is open with this other side; null: closed. */
  compare: CompareSpec | null;
}

export interface CompareActions {
  /** Opens the compare view with another side (a jump: a new history entry), or closes it. */
  setCompare(spec: CompareSpec | null): void;
}
