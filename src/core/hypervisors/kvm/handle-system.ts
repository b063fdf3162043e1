// KVM's handlers of the exits of issue 10 item 6 (arch/x86/kvm/vmx/vmx.c kvm_vmx_exit_handlers
// and the x86.c emulation they call): handle_cr, handle_io, handle_invlpg, handle_rdpmc,
// handle_wbinvd, handle_invd, handle_monitor, handle_mwait, kvm_handle_invalid_op (RDRAND) and
// kvm_emulate_cpuid. The lab has no userspace VMM and no devices: see docs/kvm.md.
import { queueKvmException } from './state';
import { cpuidLeaf, PMU_FIXED_COUNTERS, PMU_GP_COUNTERS } from '../../cpu/cpuid';
import { ioRead } from '../../cpu/io-space';
import { F } from '../../vmx/vmcs';
import { ExitReason } from '../../vmx/vm-exit';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { handleCr } from './cr';
import { Fn } from './functions';
import { rd } from './vmx';

/** kvm_queue_exception: the exception is injected at the next VM entry. */
export function queueException(c: KvmContext, vector: number, fn: number, d1: number): KvmStepResult {
  queueKvmException(c.kvm, vector);
  return decide(c.h, fn, d1, vector);
}

/**
 * The guest's CPUID as KVM reports it (KVM_GET_SUPPORTED_CPUID as a VMM would set it): the
 * processor's table without MONITOR/MWAIT (kvm_set_cpu_caps leaves CPUID.01H:ECX.MONITOR clear,
 * and leaf 5 empty), VMX kept for nested virtualization.
 */
export function kvmCpuid(leaf: number): [number, number, number, number] {
  const r = cpuidLeaf(leaf);
  const l = leaf >>> 0;
  if (l === 1) r[2] = (r[2] & ~(1 << 3)) >>> 0;
  if (l === 5) return [0, 0, 0, 0];
  return r;
}

/**
 * The exits this module handles; null for any other reason. `skip` is
 * kvm_skip_emulated_instruction. A handler that injects #GP(0) (kvm_inject_gp) records its
 * decision with d2 = 13.
 */
export function handleSystemExit(c: KvmContext, reason: number, skip: () => void): KvmStepResult | null {
  const { h, kvm } = c;
  const regs = kvm.guestRegs;
  switch (reason) {
    case ExitReason.CR_ACCESS:
      return handleCr(c, skip, (d1) => queueException(c, 13, Fn.handle_cr, d1));
    case ExitReason.IO_INSTRUCTION: {
      // handle_io → kvm_fast_pio / the emulator: no in-kernel device claims the port, so KVM
      // exits to userspace (KVM_EXIT_IO). The lab has no VMM: a read gives all ones, a write
      // is dropped, and the guest goes on after the instruction.
      const q = rd(c, F.EXIT_QUALIFICATION);
      const size = (q & 7) + 1;
      const port = q >>> 16;
      if (q & 8) {
        const v = ioRead(port, size);
        if (size === 4) {
          regs[0] = v >>> 0;
          regs[1] = 0;
        } else {
          const mask = size === 2 ? 0xffff : 0xff;
          regs[0] = ((regs[0] & ~mask) | (v & mask)) >>> 0;
        }
      }
      skip();
      return decide(h, Fn.handle_io, port, q & 8 ? 1 : 0);
    }
    case ExitReason.INVLPG:
      // kvm_mmu_invlpg: the shadow page tables drop the address (nothing to drop in the lab).
      skip();
      return decide(h, Fn.handle_invlpg, rd(c, F.EXIT_QUALIFICATION));
    case ExitReason.RDPMC: {
      // kvm_emulate_rdpmc → kvm_pmu_rdpmc: the vPMU mirrors the processor's counters, which
      // read 0; an index beyond them is #GP(0).
      const ecx = regs[2];
      const index = ecx & 0x3fffffff;
      const type = ecx >>> 30;
      if (!((type === 0 && index < PMU_GP_COUNTERS) || (type === 1 && index < PMU_FIXED_COUNTERS)))
        return queueException(c, 13, Fn.handle_rdpmc, ecx);
      regs[0] = regs[1] = regs[4] = regs[5] = 0;
      skip();
      return decide(h, Fn.handle_rdpmc, ecx);
    }
    case ExitReason.WBINVD:
      // kvm_emulate_wbinvd: only with non-coherent DMA would the caches be flushed.
      skip();
      return decide(h, Fn.handle_wbinvd);
    case ExitReason.INVD:
      // handle_invd → kvm_emulate_invd: "treat an INVD instruction as a NOP and just skip it".
      skip();
      return decide(h, Fn.handle_invd);
    case ExitReason.MONITOR:
    case ExitReason.MWAIT:
      // kvm_emulate_monitor_mwait: with KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS (on by default) the
      // instruction is "emulated as NOP": the vCPU does not wait.
      skip();
      return decide(h, reason === ExitReason.MWAIT ? Fn.handle_mwait : Fn.handle_monitor);
    case ExitReason.RDRAND:
      // KVM sets RDRAND exiting only for a guest whose CPUID lacks RDRAND: #UD.
      return queueException(c, 6, Fn.kvm_handle_invalid_op, reason);
    case ExitReason.CPUID: {
      const r = kvmCpuid(regs[0]);
      [0, 3, 1, 2].forEach((reg, i) => {
        regs[2 * reg] = r[i] >>> 0;
        regs[2 * reg + 1] = 0;
      });
      skip();
      return decide(h, Fn.kvm_emulate_cpuid, r[0]);
    }
    default:
      return null;
  }
}
