// The SVM state as the views show it (StepView.svm).
import { EFER, INT_CTL } from '../svm/bits';
import { VMCB } from '../svm/vmcb';
import { RFLAGS } from '../cpu/state';
import { hex, hex64 } from './describe';
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

/** A 64-bit value of a lane's memory as two halves (0 outside it). */
function qword(c: CompiledScenario, s: SimState, lane: number, addr: number): [number, number] {
  return [word(c, s, lane, addr), word(c, s, lane, addr + 4)];
}

/**
 * A level that waits shows the state it resumes with, as VMX levels show a VMCS area: a host
 * whose guest runs, its host save area at VM_HSAVE_PA (VMRUN saved RIP = the instruction after
 * VMRUN, RSP, RAX, RFLAGS, CR0/CR3/CR4; "#VMEXIT" reloads them); a guest after its #VMEXIT, the
 * save area of its VMCB (the next VMRUN loads it).
 */
function restingSvm(c: CompiledScenario, s: SimState, level: LevelView, svm: LevelSvmView): LevelView {
  const st = s.svm;
  if (level.cpu.running || st.vmcb < 0) return level;
  const host = st.hostLane;
  let area: number;
  let restingIn: string;
  if (svm.role === 'host' && st.guest) {
    area = st.hsavePa;
    restingIn = `the host save area at VM_HSAVE_PA (${hex(st.hsavePa)})`;
  } else if (svm.role === 'guest' && !st.guest) {
    area = st.vmcb;
    restingIn = `the save area of vmcb${host}${host + 1}`;
  } else return level;
  const [ripLo, ripHi] = qword(c, s, host, area + VMCB.RIP);
  const rip = ripHi * 0x100000000 + ripLo;
  const rflags = word(c, s, host, area + VMCB.RFLAGS) || RFLAGS.FIXED;
  const regs = level.cpu.regs.map((r) =>
    r.name === 'rsp' || r.name === 'rax'
      ? { name: r.name, value: hex64(...qword(c, s, host, area + (r.name === 'rsp' ? VMCB.RSP : VMCB.RAX))) }
      : r,
  );
  const prog = c.programs[c.lanes[level.index].program];
  const off = rip - prog.origin;
  const idx = off >= 0 && off < prog.indexAt.length ? prog.indexAt[off] : -1;
  const ins = idx >= 0 ? prog.instrs[idx] : null;
  const system = level.cpu.system && {
    ...level.cpu.system,
    cr0: word(c, s, host, area + VMCB.CR0),
    cr3: word(c, s, host, area + VMCB.CR3),
    cr4: word(c, s, host, area + VMCB.CR4),
  };
  return {
    ...level,
    cpu: {
      ...level.cpu,
      regs,
      rip,
      rflags,
      if: (rflags & RFLAGS.IF) !== 0,
      tf: (rflags & RFLAGS.TF) !== 0,
      interruptibility: { ...level.cpu.interruptibility, sti: false, movss: false },
      activity: 'active',
      system,
    },
    restingIn,
    line: ins ? ins.line : null,
    nextInstruction: ins ? ins.text : null,
  };
}

/** A level view with its SVM state added (nothing on an Intel processor). */
export function withSvmLevel(c: CompiledScenario, s: SimState, level: LevelView): LevelView {
  const svm = describeSvmLevel(c, s, level.index);
  return svm ? { ...restingSvm(c, s, level, svm), svm } : level;
}
