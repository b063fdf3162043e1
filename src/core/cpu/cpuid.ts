// CPUID of the lab's processor (SDM Vol. 2A "CPUID—CPU Identification"): the leaves that tell
// software what the model has — VMX, MONITOR/MWAIT, RDRAND, x2APIC, the TSC, performance
// monitoring — and zeros for everything else. KVM's kvm_emulate_cpuid reports the same table
// to its guests (docs/kvm.md).

/** Number of general-purpose performance counters (CPUID.0AH:EAX[15:8]) and fixed ones (EDX[4:0]). */
export const PMU_GP_COUNTERS = 4;
export const PMU_FIXED_COUNTERS = 3;

const MAX_BASIC = 0x0a;
const MAX_EXTENDED = 0x80000008;

/** [EAX, EBX, ECX, EDX] of a leaf (the subleaf in ECX does not matter for these). */
export function cpuidLeaf(leaf: number): [number, number, number, number] {
  const l = leaf >>> 0;
  // A leaf above the largest basic or extended one returns the highest basic leaf's data.
  if ((l > MAX_BASIC && l < 0x80000000) || l > MAX_EXTENDED) return cpuidLeaf(MAX_BASIC);
  switch (l) {
    case 0:
      // Largest basic leaf, "GenuineIntel".
      return [MAX_BASIC, 0x756e6547, 0x6c65746e, 0x49656e69];
    case 1:
      // ECX: SSE3 (0), MONITOR (3), VMX (5), x2APIC (21), RDRAND (30). EDX: FPU (0), TSC (4),
      // MSR (5), APIC (9), SEP (11), PGE (13), CMOV (15), FXSR (24), SSE (25), SSE2 (26).
      return [
        0x000906ea,
        0,
        (1 | (1 << 3) | (1 << 5) | (1 << 21) | (1 << 30)) >>> 0,
        (1 |
          (1 << 4) |
          (1 << 5) |
          (1 << 9) |
          (1 << 11) |
          (1 << 13) |
          (1 << 15) |
          (1 << 24) |
          (1 << 25) |
          (1 << 26)) >>>
          0,
      ];
    case 5:
      // MONITOR/MWAIT: 64-byte monitor lines; ECX: extensions enumerated (0), interrupts as
      // break events even when IF = 0 (1).
      return [64, 64, 3, 0];
    case 0x0a:
      // Architectural performance monitoring version 2: 4 counters of 48 bits, 3 fixed ones.
      return [2 | (PMU_GP_COUNTERS << 8) | (48 << 16), 0, 0, PMU_FIXED_COUNTERS | (48 << 5)];
    case 0x80000000:
      return [MAX_EXTENDED, 0, 0, 0];
    case 0x80000001:
      // LAHF/SAHF in 64-bit mode (ECX 0); SYSCALL (EDX 11), NX (20), Intel 64 (29).
      return [0, 0, 1, ((1 << 11) | (1 << 20) | (1 << 29)) >>> 0];
    case 0x80000008:
      // Physical address bits 36 (MAXPHYADDR), linear address bits 48.
      return [36 | (48 << 8), 0, 0, 0];
    default:
      return [0, 0, 0, 0];
  }
}
