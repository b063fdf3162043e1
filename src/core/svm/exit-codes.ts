// SVM #VMEXIT codes (EXITCODE, VMCB 0x70) as Linux's SVM_EXIT_* spell them (arch/x86/include/
// uapi/asm/svm.h), AMD APM vol. 2 appendix C "SVM Intercept Exit Codes". Facts §2.2.

export interface SvmExitCode {
  readonly name: string;
  readonly code: number;
  readonly description: string;
}

const MISC = [
  'INTR', 'NMI', 'SMI', 'INIT', 'VINTR', 'CR0_SEL_WRITE', 'IDTR_READ', 'GDTR_READ', 'LDTR_READ',
  'TR_READ', 'IDTR_WRITE', 'GDTR_WRITE', 'LDTR_WRITE', 'TR_WRITE', 'RDTSC', 'RDPMC', 'PUSHF',
  'POPF', 'CPUID', 'RSM', 'IRET', 'SWINT', 'INVD', 'PAUSE', 'HLT', 'INVLPG', 'INVLPGA', 'IOIO',
  'MSR', 'TASK_SWITCH', 'FERR_FREEZE', 'SHUTDOWN', 'VMRUN', 'VMMCALL', 'VMLOAD', 'VMSAVE',
  'STGI', 'CLGI', 'SKINIT', 'RDTSCP', 'ICEBP', 'WBINVD', 'MONITOR', 'MWAIT', 'MWAIT_COND',
  'XSETBV', 'RDPRU',
]; // prettier-ignore

function build(): SvmExitCode[] {
  const out: SvmExitCode[] = [];
  for (let n = 0; n < 16; n++) {
    out.push({ name: `SVM_EXIT_READ_CR${n}`, code: n, description: `MOV from CR${n} intercepted` });
    out.push({ name: `SVM_EXIT_WRITE_CR${n}`, code: 0x10 + n, description: `MOV to CR${n} intercepted` });
    out.push({ name: `SVM_EXIT_READ_DR${n}`, code: 0x20 + n, description: `MOV from DR${n} intercepted` });
    out.push({ name: `SVM_EXIT_WRITE_DR${n}`, code: 0x30 + n, description: `MOV to DR${n} intercepted` });
  }
  out.push({
    name: 'SVM_EXIT_EXCP_BASE',
    code: 0x40,
    description: 'Exception vector n intercepted: 0x40 + n',
  });
  MISC.forEach((m, i) =>
    out.push({ name: `SVM_EXIT_${m}`, code: 0x60 + i, description: `${m} intercepted` }),
  );
  out.push({ name: 'SVM_EXIT_NPF', code: 0x400, description: 'Nested page fault' });
  out.push({
    name: 'SVM_EXIT_ERR',
    code: -1,
    description: 'VMEXIT_INVALID: VMRUN found an illegal VMCB state',
  });
  return out.sort((a, b) => a.code - b.code);
}

export const SVM_EXIT_CODES: readonly SvmExitCode[] = build();

/** The exit codes the model produces. */
export const SvmExit = {
  READ_CR0: 0x000,
  WRITE_CR0: 0x010,
  READ_DR0: 0x020,
  WRITE_DR0: 0x030,
  EXCP_BASE: 0x040,
  INTR: 0x060,
  NMI: 0x061,
  VINTR: 0x064,
  RDTSC: 0x06e,
  RDPMC: 0x06f,
  CPUID: 0x072,
  IRET: 0x074,
  SWINT: 0x075,
  INVD: 0x076,
  PAUSE: 0x077,
  HLT: 0x078,
  IOIO: 0x07b,
  MSR: 0x07c,
  SHUTDOWN: 0x07f,
  VMRUN: 0x080,
  VMMCALL: 0x081,
  VMLOAD: 0x082,
  VMSAVE: 0x083,
  STGI: 0x084,
  CLGI: 0x085,
  ICEBP: 0x088,
  WBINVD: 0x089,
  MONITOR: 0x08a,
  MWAIT: 0x08b,
  ERR: -1,
} as const;

const BY_CODE = new Map(SVM_EXIT_CODES.map((e) => [e.code, e]));

/** The SVM_EXIT_* name of a code (exceptions as SVM_EXIT_EXCP_BASE + n). */
export function svmExitName(code: number): string {
  if (code >= 0x40 && code < 0x60) return `SVM_EXIT_EXCP_BASE + ${code - 0x40}`;
  const c = code === 0xffffffff ? -1 : code;
  return BY_CODE.get(c)?.name ?? `SVM exit 0x${code.toString(16)}`;
}
