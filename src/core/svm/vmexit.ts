// #VMEXIT (AMD APM vol. 2 "#VMEXIT"): the processor saves the guest's state and the exit
// information into the VMCB, clears EVENTINJ.V, sets GIF = 0 and loads the host's state from
// the host save area (VM_HSAVE_PA).
import { EventKind } from '../engine/view';
import type { Hart } from '../cpu/hart';
import { switchLane } from '../cpu/hart';
import { Activity, Shadow, swapBook } from '../cpu/state';
import { EVTINJ, INT_CTL, SvmEventType } from './bits';
import { VMCB } from './vmcb';
import { loadStateArea, saveStateArea } from './save-area';
import { rd32, wr32, wr64, wrCode } from './vmcb-memory';

export interface SvmExitInfo {
  code: number;
  info1?: number;
  info2?: number;
  /** EXITINTINFO: the event whose delivery the exit interrupted (V set), or 0. */
  intInfo?: number;
  intErr?: number;
  /** nRIP for an instruction intercept (NRIPS), else 0. */
  nextRip?: number;
}

/** The host's memory, where the VMCB and the host save area are. */
export function hostMemory(h: Hart) {
  return h.lanes[h.svm.hostLane]?.mem ?? h.mem;
}

/** Perform a #VMEXIT from the running guest; `h.cpu.rip` is the guest RIP to save. */
export function svmExit(h: Hart, info: SvmExitInfo): void {
  const svm = h.svm;
  const cpu = h.cpu;
  const m = hostMemory(h);
  const vmcb = svm.vmcb;
  const guestRip = cpu.rip;
  const guestLane = h.level;
  // "State Saved on Exit": the guest's registers and its interrupt shadow.
  saveStateArea(m, vmcb, cpu, svm.efer, guestRip);
  wr32(m, vmcb + VMCB.INT_STATE, cpu.shadow & (Shadow.STI | Shadow.MOVSS) ? 1 : 0);
  // int_ctl as the processor holds it: V_IRQ cleared when the virtual interrupt was taken,
  // V_NMI / V_NMI_MASK, V_GIF. "A #VMEXIT during the delivery of a virtual NMI" clears
  // V_NMI_MASK (the NMI is in EXITINTINFO instead); the mask is set only when delivery completes.
  const intInfo = info.intInfo ?? 0;
  let intCtl = svm.intCtl;
  if (intInfo & EVTINJ.SVM_EVTINJ_VALID && ((intInfo >>> 8) & 7) === SvmEventType.NMI)
    intCtl &= ~INT_CTL.V_NMI_BLOCKING_MASK;
  wr32(m, vmcb + VMCB.INT_CTL, intCtl);
  // "Exit information": EXITCODE, EXITINFO1/2, EXITINTINFO, nRIP; EVENTINJ.V cleared.
  wrCode(m, vmcb + VMCB.EXIT_CODE, info.code);
  wr64(m, vmcb + VMCB.EXIT_INFO_1, info.info1 ?? 0);
  wr64(m, vmcb + VMCB.EXIT_INFO_2, info.info2 ?? 0);
  wr32(m, vmcb + VMCB.EXIT_INT_INFO, intInfo);
  wr32(m, vmcb + VMCB.EXIT_INT_INFO_ERR, info.intErr ?? 0);
  wr64(m, vmcb + VMCB.NEXT_RIP, info.nextRip ?? 0);
  wr32(m, vmcb + VMCB.EVENT_INJ, rd32(m, vmcb + VMCB.EVENT_INJ) & ~EVTINJ.SVM_EVTINJ_VALID);
  svm.workRip = cpu.workRemaining > 0 ? guestRip : -1;
  swapBook(cpu, h.books[guestLane], h.books[svm.hostLane]);
  loadHostState(h);
  svm.guest = false;
  svm.pendingExit = null;
  switchLane(h, svm.hostLane);
  h.out.kind = EventKind.VMEXIT;
  h.out.rip = guestRip;
  h.out.d0 = info.code >>> 0;
  h.out.d1 = (info.info1 ?? 0) >>> 0;
  h.out.d2 = intInfo >>> 0;
}

/**
 * "#VMEXIT": the host's RIP, RSP, RAX, RFLAGS, CR0/CR3/CR4, EFER and IDTR from the host save
 * area, GIF = 0 (also after a VMRUN that failed its checks: VMEXIT_INVALID).
 */
export function loadHostState(h: Hart): void {
  const svm = h.svm;
  const cpu = h.cpu;
  const m = hostMemory(h);
  const hs = svm.hsavePa;
  svm.efer = loadStateArea(m, hs, cpu);
  cpu.shadow = 0;
  cpu.activity = Activity.ACTIVE;
  // A single-step trap pending in the guest ends with it; the host's own TF at VMRUN makes
  // one due now (svm/instructions.ts).
  cpu.dbTrapPending = svm.hostSingleStep;
  svm.hostSingleStep = false;
  svm.gif = false;
}
