// Words for the VM exits, VM entries and decisions the timeline draws: tooltips, the exit
// reason label, the colour of an injected event. Details come from the step's view (fetched
// in the background); until they arrive the marks say what kind they are.
import { EVENT_TYPE_NAMES } from '../../core/engine/view';
import { svmExitName } from '../../core/svm/exit-codes';
import { exitReasonByCode } from '../../core/vmx';
import type { EventDetail } from '../store/types';
import { eventTypeCategory, type MarkCategory } from '../theme';
import type { Mark } from './visible-marks';

/** The valid bit of an interruption-information word (and the VM-entry-failure bit of an exit reason). */
export const VALID = 0x80000000;

/**
 * "7 INTERRUPT_WINDOW"; a failed VM entry says so. On AMD the exit code: "0x81 VMMCALL",
 * "-1 ERR (VMEXIT_INVALID)" (APM "VMRUN": a failed consistency check gives EXITCODE -1).
 */
export function exitReasonLabel(reason: number, arch: 'vmx' | 'svm' = 'vmx'): string {
  if (arch === 'svm') {
    const name = svmExitName(reason >>> 0).replace(/^SVM_EXIT_/, '');
    return `${exitReasonNumber(reason, arch)} ${name === 'ERR' ? 'ERR (VMEXIT_INVALID)' : name}`;
  }
  const basic = reason & 0xffff;
  const name = exitReasonByCode(basic)?.name.replace(/^EXIT_REASON_/, '') ?? 'unknown';
  return `${basic} ${name}${reason & VALID ? ' (VM-entry failure)' : ''}`;
}

/** The short form of an exit's label: the basic reason, or the SVM exit code in hex (-1 for VMEXIT_INVALID). */
export function exitReasonNumber(reason: number, arch: 'vmx' | 'svm' = 'vmx'): string {
  if (arch !== 'svm') return String(reason & 0xffff);
  return (reason | 0) === -1 ? '-1' : `0x${(reason >>> 0).toString(16)}`;
}

/** "NMI vector 0x02": the event an interruption-information word describes. */
export function eventText(info: number): string {
  const type = EVENT_TYPE_NAMES[(info >>> 8) & 7] ?? `type ${(info >>> 8) & 7}`;
  return `${type} vector 0x${(info & 0xff).toString(16).padStart(2, '0')}`;
}

/** The colour family of the event a VM entry injected, or undefined when it injected none. */
export function injectedCategory(detail: EventDetail | undefined): MarkCategory | undefined {
  const info = detail?.data.injected;
  if (info === undefined || (info & VALID) === 0) return undefined;
  return eventTypeCategory((info >>> 8) & 7);
}

/** The kernel function a decision's explanation starts with ("process_nmi: ..."). */
export function decisionFunction(detail: EventDetail | undefined): string | null {
  const m = detail ? /^([A-Za-z_][\w]*(?:\s*→\s*[A-Za-z_]\w*)*)\s*:/.exec(detail.text) : null;
  return m ? m[1] : null;
}

function clip(text: string, max = 220): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The tooltip of an exit, entry or decision mark. */
export function transitionTitle(
  m: Mark,
  detail: EventDetail | undefined,
  arch: 'vmx' | 'svm' = 'vmx',
): string {
  const head = `step ${m.step}: `;
  const route = m.target >= 0 ? ` L${m.lane} → L${m.target}` : ` at L${m.lane}`;
  if (m.kind === 'exit') {
    if (!detail) return `${head}VM exit${route}`;
    const { reason = 0, intrInfo = 0, vectoringInfo = 0 } = detail.data;
    const parts = [
      `${head}${arch === 'svm' ? '#VMEXIT' : 'VM exit'}${route}, ${arch === 'svm' ? 'exit code' : 'reason'} ${exitReasonLabel(reason, arch)}`,
    ];
    if (intrInfo & VALID) parts.push(`exit interruption info: ${eventText(intrInfo)}`);
    if (vectoringInfo & VALID)
      parts.push(`IDT-vectoring info: ${eventText(vectoringInfo)} (was being delivered)`);
    return parts.join('\n');
  }
  if (m.kind === 'entry') {
    if (!detail) return `${head}VM entry${route}`;
    const how = detail.data.launch === 1 ? 'VMLAUNCH' : 'VMRESUME';
    const injected = detail.data.injected ?? 0;
    const inj = injected & VALID ? `, injects ${eventText(injected)}` : '';
    return `${head}VM entry${route} (${how})${inj}`;
  }
  if (!detail) return `${head}KVM decision`;
  return `${head}KVM decision\n${clip(detail.text)}`;
}
