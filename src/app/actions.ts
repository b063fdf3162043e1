// Every user operation, declared once: its name, its label, its keys and its effect. The
// keyboard handler, the transport buttons' titles and the help overlay all read this list.
import type { LabState } from './store/types';

export type ActionName =
  | 'stepForward'
  | 'stepBack'
  | 'togglePlay'
  | 'jumpToStart'
  | 'jumpToEnd'
  | 'nextDelivery'
  | 'prevDelivery'
  | 'nextTransition'
  | 'prevTransition'
  | 'nextDecision'
  | 'prevDecision'
  | 'faster'
  | 'slower'
  | 'toggleHelp'
  | 'focusEditor'
  | 'openPalette'
  | 'nextResult'
  | 'prevResult'
  | 'closeOverlay';

export interface LabAction {
  name: ActionName;
  label: string;
  /** KeyboardEvent.key values that trigger it. */
  keys: string[];
  /** How the keys are written in the help and in tooltips. */
  keyLabels: string[];
  /** The key is pressed with Ctrl (or ⌘ on a Mac). */
  ctrl?: boolean;
  perform(state: LabState): void;
}

/** The kinds that "step by delivery" stops at (names of EVENT_KIND_NAMES). */
export const DELIVERY_KINDS = ['delivery'];
/** "Step by VM transition": VM entries and VM exits. */
export const TRANSITION_KINDS = ['vmentry', 'vmexit'];
/** "Step by hypervisor decision". */
export const DECISION_KINDS = ['decision'];

export const ACTIONS: readonly LabAction[] = [
  {
    name: 'stepForward',
    label: 'Step forward',
    keys: ['ArrowRight', 'l'],
    keyLabels: ['→', 'l'],
    perform: (s) => s.stepForward(),
  },
  {
    name: 'stepBack',
    label: 'Step back',
    keys: ['ArrowLeft', 'h'],
    keyLabels: ['←', 'h'],
    perform: (s) => s.stepBack(),
  },
  {
    name: 'togglePlay',
    label: 'Play / pause',
    keys: [' '],
    keyLabels: ['Space'],
    perform: (s) => s.togglePlay(),
  },
  {
    name: 'jumpToStart',
    label: 'Jump to start',
    keys: ['Home'],
    keyLabels: ['Home'],
    perform: (s) => s.jumpToStart(),
  },
  {
    name: 'jumpToEnd',
    label: 'Jump to end',
    keys: ['End'],
    keyLabels: ['End'],
    perform: (s) => s.jumpToEnd(),
  },
  {
    name: 'nextDelivery',
    label: 'Next delivery',
    keys: ['n'],
    keyLabels: ['n'],
    perform: (s) => void s.seekKind(1, DELIVERY_KINDS),
  },
  {
    name: 'prevDelivery',
    label: 'Previous delivery',
    keys: ['N'],
    keyLabels: ['N'],
    perform: (s) => void s.seekKind(-1, DELIVERY_KINDS),
  },
  {
    name: 'nextTransition',
    label: 'Next VM exit or entry',
    keys: ['x'],
    keyLabels: ['x'],
    perform: (s) => void s.seekKind(1, TRANSITION_KINDS),
  },
  {
    name: 'prevTransition',
    label: 'Previous VM exit or entry',
    keys: ['X'],
    keyLabels: ['X'],
    perform: (s) => void s.seekKind(-1, TRANSITION_KINDS),
  },
  {
    name: 'nextDecision',
    label: 'Next hypervisor decision',
    keys: ['d'],
    keyLabels: ['d'],
    perform: (s) => void s.seekKind(1, DECISION_KINDS),
  },
  {
    name: 'prevDecision',
    label: 'Previous hypervisor decision',
    keys: ['D'],
    keyLabels: ['D'],
    perform: (s) => void s.seekKind(-1, DECISION_KINDS),
  },
  {
    name: 'faster',
    label: 'Faster',
    keys: ['+', '='],
    keyLabels: ['+'],
    perform: (s) => s.faster(),
  },
  {
    name: 'slower',
    label: 'Slower',
    keys: ['-', '_'],
    keyLabels: ['-'],
    perform: (s) => s.slower(),
  },
  {
    name: 'toggleHelp',
    label: 'Keyboard shortcuts',
    keys: ['?'],
    keyLabels: ['?'],
    perform: (s) => s.toggleHelp(),
  },
  {
    name: 'focusEditor',
    label: 'Edit the scenario',
    keys: ['e'],
    keyLabels: ['e'],
    perform: (s) => {
      s.setHelpOpen(false);
      s.focusEditor();
    },
  },
  {
    name: 'openPalette',
    label: 'Go to a step or time, search the trace',
    keys: ['k', 'K'],
    keyLabels: ['Ctrl+K'],
    ctrl: true,
    perform: (s) => s.openPalette(),
  },
  {
    name: 'nextResult',
    label: 'Next search result',
    keys: [']'],
    keyLabels: [']'],
    perform: (s) => void s.searchStep(1),
  },
  {
    name: 'prevResult',
    label: 'Previous search result',
    keys: ['['],
    keyLabels: ['['],
    perform: (s) => void s.searchStep(-1),
  },
  {
    name: 'closeOverlay',
    label: 'Close the help or the palette',
    keys: ['Escape'],
    keyLabels: ['Esc'],
    perform: (s) => {
      s.setHelpOpen(false);
      s.closePalette();
      s.cancelSwitch();
    },
  },
];

/** Actions that still work while a dialog (the help, a confirmation) is open: its close keys. */
export const DIALOG_ACTIONS: readonly ActionName[] = ['closeOverlay', 'toggleHelp'];

export const ACTIONS_BY_NAME = Object.fromEntries(ACTIONS.map((a) => [a.name, a])) as Record<
  ActionName,
  LabAction
>;

/** The action a key press stands for, or undefined. Keys with Alt, and with Ctrl or Meta
 *  other than the palette's Ctrl+K (⌘K), are left alone. */
export function actionForKey(event: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey'>) {
  if (event.altKey) return undefined;
  const ctrl = event.ctrlKey || event.metaKey;
  return ACTIONS.find((a) => (a.ctrl ?? false) === ctrl && a.keys.includes(event.key));
}

/** "Step forward (→ / l)", for tooltips. */
export function actionTitle(name: ActionName): string {
  const a = ACTIONS_BY_NAME[name];
  return `${a.label} (${a.keyLabels.join(' / ')})`;
}
