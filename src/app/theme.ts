// The colours and type of the lab, defined once. Every kind of event has one colour, used by
// the timeline marks, the legend, the explanation chip and the APIC chips alike.
import type { CSSProperties } from 'react';
import { EventKind, EventType } from '../core/engine/view';

/** What a mark on the timeline (or a chip in a panel) stands for. */
export type MarkCategory =
  | 'instruction'
  | 'idle'
  | 'extint'
  | 'nmi'
  | 'exception'
  | 'software'
  | 'iret'
  | 'assert-pass'
  | 'assert-fail'
  | 'shutdown'
  | 'vmexit'
  | 'vmentry'
  | 'decision';

export const KIND_COLORS: Record<MarkCategory, string> = {
  instruction: '#6e7681',
  idle: '#3d444d',
  extint: '#4da3ff',
  nmi: '#ff8c42',
  exception: '#e8c547',
  software: '#a98bff',
  iret: '#2ec4b6',
  'assert-pass': '#3fb950',
  'assert-fail': '#f85149',
  shutdown: '#f85149',
  vmexit: '#ec6cb9',
  vmentry: '#6bc46d',
  decision: '#c8a2ff',
};

export const KIND_LABELS: Record<MarkCategory, string> = {
  instruction: 'instruction',
  idle: 'idle (halted)',
  extint: 'external interrupt',
  nmi: 'NMI',
  exception: 'exception',
  software: 'software interrupt',
  iret: 'IRET',
  'assert-pass': 'assert passed',
  'assert-fail': 'assert failed',
  shutdown: 'shutdown',
  vmexit: 'VM exit',
  vmentry: 'VM entry',
  decision: 'KVM decision',
};

/** The colour family of an event type (SDM interruption types, as in EventType). */
export function eventTypeCategory(type: number): 'extint' | 'nmi' | 'exception' | 'software' {
  switch (type) {
    case EventType.NMI:
      return 'nmi';
    case EventType.HW_EXCEPTION:
      return 'exception';
    case EventType.SW_INT:
    case EventType.PRIV_SW_EXCEPTION:
    case EventType.SW_EXCEPTION:
      return 'software';
    default:
      return 'extint';
  }
}

/** The category of a trace event; `passed` only matters for asserts. */
export function markCategory(kind: number, type: number, passed = true): MarkCategory {
  switch (kind) {
    case EventKind.DELIVER:
    case EventKind.RAISE:
      return eventTypeCategory(type);
    case EventKind.IRET:
      return 'iret';
    case EventKind.ASSERT:
      return passed ? 'assert-pass' : 'assert-fail';
    case EventKind.SHUTDOWN:
      return 'shutdown';
    case EventKind.IDLE:
      return 'idle';
    case EventKind.VMEXIT:
      return 'vmexit';
    case EventKind.VMENTRY:
      return 'vmentry';
    case EventKind.DECISION:
      return 'decision';
    default:
      return 'instruction';
  }
}

const UI = {
  bg: '#0d1117',
  surface: '#151b23',
  surface2: '#1b222c',
  raised: '#222a35',
  border: '#2d3540',
  text: '#e6edf3',
  muted: '#9aa4af',
  // At least 4.5:1 on every surface (bg, surface, surface-2), like --muted.
  faint: '#8b949e',
  focus: '#c9d1d9',
  changed: '#f778ba',
  changedBg: 'rgba(247, 120, 186, 0.16)',
  currentLine: 'rgba(230, 237, 243, 0.08)',
  warn: '#d29922',
  warnBg: 'rgba(210, 153, 34, 0.14)',
  danger: '#f85149',
  dangerBg: 'rgba(248, 81, 73, 0.14)',
  ok: '#3fb950',
};

export const FONT_UI =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif';
export const FONT_MONO =
  'ui-monospace, "SF Mono", "Cascadia Mono", "JetBrains Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace';

/** CSS custom properties set on the app root, so the stylesheets use the same values. */
export const themeVars = {
  '--bg': UI.bg,
  '--surface': UI.surface,
  '--surface-2': UI.surface2,
  '--raised': UI.raised,
  '--border': UI.border,
  '--text': UI.text,
  '--muted': UI.muted,
  '--faint': UI.faint,
  '--focus': UI.focus,
  '--changed': UI.changed,
  '--changed-bg': UI.changedBg,
  '--current-line': UI.currentLine,
  '--warn': UI.warn,
  '--warn-bg': UI.warnBg,
  '--danger': UI.danger,
  '--danger-bg': UI.dangerBg,
  '--ok': UI.ok,
  '--font-ui': FONT_UI,
  '--font-mono': FONT_MONO,
  ...Object.fromEntries(Object.entries(KIND_COLORS).map(([k, v]) => [`--kind-${k}`, v])),
} as CSSProperties;
