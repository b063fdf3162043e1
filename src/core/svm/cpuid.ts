// CPUID of the lab's processor when it is AMD's (arch "svm"): the Intel table of cpu/cpuid.ts
// with AMD's vendor string, no VMX (leaf 1 ECX[5]), SVM (8000_0001 ECX[2]) and leaf 8000_000A
// ("SVM Revision and Feature Identification", AMD APM Vol. 3 appendix E; facts §2.8): the
// features the model has — NRIPS (EDX[3]), VGIF (EDX[16]), vNMI (EDX[25]).
import { cpuidLeaf } from '../cpu/cpuid';

const MAX_EXTENDED = 0x8000000a;

/** CPUID Fn8000_000A EDX bits the model implements. */
export const SVM_FEATURES = { NRIPS: 1 << 3, VGIF: 1 << 16, VNMI: 1 << 25 } as const;

/** The Fn8000_000A EDX bits of a processor with every feature the model has. */
export const ALL_SVM_FEATURES = (SVM_FEATURES.NRIPS | SVM_FEATURES.VGIF | SVM_FEATURES.VNMI) >>> 0;

/** The Fn8000_000A EDX bits of the scenario's processor (`features.svm`: vNMI may be absent). */
export function svmFeatureBits(f: { vnmi: boolean }): number {
  return (ALL_SVM_FEATURES & ~(f.vnmi ? 0 : SVM_FEATURES.VNMI)) >>> 0;
}

/** [EAX, EBX, ECX, EDX] of a leaf on the AMD processor (`features`: its Fn8000_000A EDX). */
export function amdCpuidLeaf(leaf: number, features = ALL_SVM_FEATURES): [number, number, number, number] {
  const l = leaf >>> 0;
  if (l > MAX_EXTENDED) return cpuidLeaf(0x0a);
  switch (l) {
    case 0: {
      const [max] = cpuidLeaf(0);
      return [max, 0x68747541, 0x444d4163, 0x69746e65]; // "AuthenticAMD"
    }
    case 1: {
      const r = cpuidLeaf(1);
      return [r[0], r[1], (r[2] & ~(1 << 5)) >>> 0, r[3]];
    }
    case 0x80000000:
      return [MAX_EXTENDED, 0x68747541, 0x444d4163, 0x69746e65];
    case 0x80000001: {
      const r = cpuidLeaf(0x80000001);
      return [r[0], r[1], (r[2] | (1 << 2)) >>> 0, r[3]];
    }
    case 0x80000009:
      return [0, 0, 0, 0];
    case 0x8000000a:
      // SVM revision 1, 8 ASIDs, the features above.
      return [1, 8, 0, features >>> 0];
    default:
      return cpuidLeaf(l);
  }
}
