// The SVM state as the views show it (StepView.svm).
import { EFER, INT_CTL } from '../svm/bits';
import { VMCB } from '../svm/vmcb';
import type { CompiledScenario } from '../scenario/load';
import { describeVmcbs } from './describe-vmcb';
import type { SimState } from './machine';
import type { LevelSvmView, LevelView, SvmView } from './view';

/** The processor's SVM state at `cur`, with every VMCB (changes against `prev`, the step before). */
export function describeSvm(c: CompiledScenario, prev: SimState | null, cur: SimState): SvmView {
  const s = cur.svm;
  return {
    enabled: (s.efer & EFER.SVME) !== 0,
    gif: s.gif,
    guest: s.guest,
    vmHsavePa: s.hsavePa,
    vmcb: s.vmcb,
    intCtl: s.intCtl >>> 0,
    vmcbs: describeVmcbs(c, prev, cur),
  };
}

/** 32 bits of a lane's memory, or 0 outside it. */
function word(c: CompiledScenario, s: SimState, lane: number, addr: number): number {
  const bytes = s.mems[c.lanes[lane]?.program ?? -1]?.bytes;
  if (!bytes || addr < 0 || addr + 4 > bytes.length) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(addr, true);
}

/**
 * A level's SVM state on an AMD processor: the host (the level that ran VMRUN, L0 before any)
 * sees GIF, its EFER.SVME (in the host save area while its guest runs) and VM_HSAVE_PA; the
 * guest its GIF while it runs and V_GIF with vGIF ("Global Interrupt Flag", "Virtual GIF").
 */
export function describeSvmLevel(c: CompiledScenario, s: SimState, lane: number): LevelSvmView | undefined {
  const svm = s.svm;
  if (!svm.available) return undefined;
  const host = svm.vmcb >= 0 ? svm.hostLane : 0;
  const running = s.lane === lane;
  if (lane === host) {
    const efer = running ? svm.efer : word(c, s, host, svm.hsavePa + VMCB.EFER);
    return {
      role: 'host',
      gif: svm.gif,
      vgifEnabled: false,
      vgif: false,
      svme: (efer & EFER.SVME) !== 0,
      hsavePa: svm.hsavePa,
    };
  }
  if (lane !== host + 1 || svm.vmcb < 0) return undefined;
  const intCtl = svm.guest ? svm.intCtl : word(c, s, host, svm.vmcb + VMCB.INT_CTL);
  const efer = running ? svm.efer : word(c, s, host, svm.vmcb + VMCB.EFER);
  return {
    role: 'guest',
    gif: svm.guest ? svm.gif : null,
    vgifEnabled: (intCtl & INT_CTL.V_GIF_ENABLE_MASK) !== 0,
    vgif: (intCtl & INT_CTL.V_GIF_MASK) !== 0,
    svme: (efer & EFER.SVME) !== 0,
    hsavePa: null,
  };
}

/** A level view with its SVM state added (nothing on an Intel processor). */
export function withSvmLevel(c: CompiledScenario, s: SimState, level: LevelView): LevelView {
  const svm = describeSvmLevel(c, s, level.index);
  return svm ? { ...level, svm } : level;
}
