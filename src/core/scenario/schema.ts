// The scenario file, version 1: the public contract for built-in and user scenarios.
// Validated with zod; docs/scenario.schema.json is generated from this schema (npm run schema).
import { z } from 'zod';

const int = () => z.number().int();

export const ParamSchema = z
  .object({
    type: z.enum(['boolean', 'number', 'string']),
    default: z.union([z.boolean(), z.number(), z.string()]),
    description: z.string(),
    choices: z.array(z.union([z.string(), z.number()])).optional(),
    /** Number parameters only: the smallest and largest values a variant may take. */
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict()
  .refine((p) => typeof p.default === p.type, {
    message: 'default must have the parameter’s type',
    path: ['default'],
  })
  .refine((p) => p.type === 'number' || (p.min === undefined && p.max === undefined), {
    message: 'min and max are for number parameters',
    path: ['min'],
  })
  .refine(
    (p) =>
      typeof p.default !== 'number' ||
      ((p.min === undefined || p.default >= p.min) && (p.max === undefined || p.default <= p.max)),
    { message: 'default must lie between min and max', path: ['default'] },
  );

export const ProgramLevelSchema = z
  .object({
    kind: z.literal('program'),
    name: z.string().min(1).optional(),
    /** The program source, as one string or as an array of lines. */
    program: z.union([z.string(), z.array(z.string())]),
    /** Bytes of memory: the image is loaded at 0x1000 and the stack starts at the top. */
    memory: int().min(0x3000).max(0x1000000).default(0x10000),
    /** Only when this parameter is true ("name") or false ("!name"). */
    when: z.string().optional(),
  })
  .strict();

export const KvmLevelSchema = z
  .object({
    kind: z.literal('kvm'),
    name: z.string().min(1).optional(),
    /** The KVM model's options: module parameters and the era of the code. */
    options: z
      .object({
        /** kvm_intel.vnmi: use virtual NMIs when the CPU has them (else the soft-vNMI path). */
        vnmi: z.boolean().default(true),
        /** How vcpu_enter_guest forces an immediate exit: the preemption timer (since 2018) or a self-IPI. */
        immediateExit: z.enum(['preemption-timer', 'self-ipi']).default('preemption-timer'),
        /**
         * The era of the injection code: '2008' evaluates events on every VM entry
         * (vmx_intr_assist); 'current' only when KVM_REQ_EVENT is pending (since 2010).
         */
        era: z.enum(['current', '2008']).default('current'),
        /**
         * Nested VMX where KVM's history changed (docs/kvm.md). nestedImmediateExit: d6185f20
         * (2011) forces an immediate exit after a pending nested entry; before, the event for L1
         * waited for L2's next exit.
         */
        nestedImmediateExit: z.boolean().default(true),
        /** b5861e5cf2fc (2018): re-evaluate L1's pending events at nested VM entry. */
        nestedReevaluateOnEntry: z.boolean().default(true),
        /** Nested acknowledge-interrupt-on-exit (2014); false: the vector is not reported to L1. */
        nestedAckOnExit: z.boolean().default(true),
        /** A broken L0 that emulates L1's exit without entering L2 ("pretend L2 ran"). */
        pretendL2Ran: z.boolean().default(false),
        /**
         * kvm_intel.enable_shadow_vmcs: give L1 VMCS shadowing (when the processor has it), so
         * that its VMREAD/VMWRITE of the most used fields do not exit.
         */
        shadowVmcs: z.boolean().default(true),
      })
      .strict()
      .default({
        vnmi: true,
        immediateExit: 'preemption-timer',
        era: 'current',
        nestedImmediateExit: true,
        nestedReevaluateOnEntry: true,
        nestedAckOnExit: true,
        pretendL2Ran: false,
        shadowVmcs: true,
      }),
    /** Host memory for KVM's VMXON region, VMCSs, instruction stubs and VMCS bitmaps. */
    memory: int().min(0xb000).max(0x1000000).default(0x10000),
    /** Only when this parameter is true ("name") or false ("!name"). */
    when: z.string().optional(),
  })
  .strict();

export const XenLevelSchema = z
  .object({
    kind: z.literal('xen'),
    name: z.string().min(1).optional(),
    /** The Xen model's options (docs/xen.md). Xen runs at L0 on AMD SVM only (arch "svm"). */
    options: z
      .object({
        /**
         * Use AMD's virtual NMI when the CPU has it (CPUID 8000_000A EDX[25], features.svm.vnmi):
         * Xen 86a203ab8d ("x86/svm: Support vNMI on capable hardware"). Off: the NMI is injected
         * through EVENTINJ and its end is inferred from the IRET intercept.
         */
        vnmi: z.boolean().default(true),
        /**
         * With vNMI, hvm_interrupt_blocked does not report a second NMI as blocked while
         * V_NMI_MASK is set (86a203ab8d's short-circuit); false models the patch without it: Xen
         * opens a VINTR window that cannot help (seed E-v3).
         */
        vnmiShortCircuit: z.boolean().default(true),
        /**
         * construct_vmcb sets the NMI intercept. false is a misconfiguration Xen never makes: with
         * vNMI, VMRUN then fails with VMEXIT_INVALID (seed E-v4).
         */
        nmiIntercept: z.boolean().default(true),
      })
      .strict()
      .default({ vnmi: true, vnmiShortCircuit: true, nmiIntercept: true }),
    /** Xen's memory for the VMCB, the host save area and the MSR and I/O permission maps. */
    memory: int().min(0x10000).max(0x1000000).default(0x10000),
    /** Only when this parameter is true ("name") or false ("!name"). */
    when: z.string().optional(),
  })
  .strict();

export const LevelSchema = z.discriminatedUnion('kind', [ProgramLevelSchema, KvmLevelSchema, XenLevelSchema]);

export const TriggerSchema = z.union([
  z.object({ time: z.number().min(0) }).strict(),
  z
    .object({
      level: int().min(0),
      label: z.string().min(1),
      /** Raise it this many cycles after the level reaches the label (default 0: at once). */
      after: z.number().min(0).optional(),
    })
    .strict(),
]);

export const ExternalEventSchema = z
  .object({
    /** When: at a TSC time in cycles, or when a level reaches a label. */
    at: TriggerSchema,
    /** The level whose interrupt controller receives it (0 = the physical APIC). */
    target: int().min(0).default(0),
    /** A fixed interrupt with this vector (16–255). */
    irq: int().min(16).max(255).optional(),
    /** A non-maskable interrupt. */
    nmi: z.literal(true).optional(),
    /** Raise it again every this many cycles (a periodic timer), up to `until`. */
    every: z.number().positive().optional(),
    /** With `every`: the last time it may be raised (default: the run's time limit). */
    until: z.number().min(0).optional(),
    /** Only when this parameter is true ("name") or false ("!name"). */
    when: z.string().optional(),
    /** A note shown with the event. */
    note: z.string().optional(),
  })
  .strict()
  .refine((e) => (e.irq === undefined) !== (e.nmi === undefined), {
    message: 'an event is either an "irq" with a vector or an "nmi": give exactly one',
  });

export const ScenarioSchema = z
  .object({
    version: z.literal(1),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
    title: z.string().min(1),
    description: z.string(),
    arch: z.enum(['vmx', 'svm']),
    features: z
      .object({
        /** TSC frequency, to turn cycles into time in explanations. */
        tscHz: z.number().positive().default(2_000_000_000),
        /** The processor's VMX capabilities (IA32_VMX_* MSRs). */
        vmx: z
          .object({
            virtualNmis: z.boolean().default(true),
            preemptionTimer: z.boolean().default(true),
            preemptionTimerRate: int().min(0).max(31).default(5),
            /** The "VMCS shadowing" secondary control (guest VMREAD/VMWRITE without exits). */
            vmcsShadowing: z.boolean().default(true),
            /** IA32_VMX_MISC[29]: VMWRITE may write the VM-exit information fields. */
            vmwriteAnyField: z.boolean().default(true),
            /** Implementation-specific: VM entry refuses an NMI injected into blocking by STI (exit qualification 3). */
            stiBlocksNmiInjection: z.boolean().default(false),
          })
          .strict()
          .default({
            virtualNmis: true,
            preemptionTimer: true,
            preemptionTimerRate: 5,
            vmcsShadowing: true,
            vmwriteAnyField: true,
            stiBlocksNmiInjection: false,
          }),
        /** The processor's SVM features (CPUID Fn8000_000A EDX), when arch is "svm". */
        svm: z
          .object({
            /** EDX[25] VNMI: NMI virtualization (V_NMI, V_NMI_MASK, V_NMI_ENABLE). */
            vnmi: z.boolean().default(true),
          })
          .strict()
          .default({ vnmi: true }),
      })
      .strict()
      .default({
        tscHz: 2_000_000_000,
        vmx: {
          virtualNmis: true,
          preemptionTimer: true,
          preemptionTimerRate: 5,
          vmcsShadowing: true,
          vmwriteAnyField: true,
          stiBlocksNmiInjection: false,
        },
        svm: { vnmi: true },
      }),
    params: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/), ParamSchema).default({}),
    levels: z.array(LevelSchema).min(1),
    events: z.array(ExternalEventSchema).default([]),
    limits: z
      .object({
        steps: int().min(1).max(50_000_000).default(1_000_000),
        time: z.number().positive().default(1e13),
        /** The label a finished run must have executed (kvm-unit-tests: a test that never
         *  finishes fails); a run that ends before it fails with "ended … before line L". */
        expectEnd: z
          .object({ level: int().min(0).default(0), label: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .default({ steps: 1_000_000, time: 1e13 }),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type ExternalEvent = z.infer<typeof ExternalEventSchema>;
export type Param = z.infer<typeof ParamSchema>;
export type ParamValue = boolean | number | string;
