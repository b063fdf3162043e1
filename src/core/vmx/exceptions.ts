// Exception vectors 0-31, for the exception bitmap and for the vector of an interruption
// whose type is an exception (SDM Vol. 3A "Exception and Interrupt Reference").

export interface ExceptionVector {
  readonly vector: number;
  /** Mnemonic as in the SDM ("#PF"), or '' for reserved vectors. */
  readonly mnemonic: string;
  readonly name: string;
  /**
   * The exception pushes an error code. The VM-entry check on "deliver error code" uses
   * 8, 10-14 and 17 (kvm-unit-tests test_invalid_event_injection); #CP (21) depends on the
   * processor, and 29-30 are AMD's.
   */
  readonly errorCode: boolean;
}

const ROWS: readonly [number, string, string, boolean][] = [
  [0, '#DE', 'Divide error', false],
  [1, '#DB', 'Debug', false],
  [2, 'NMI', 'Non-maskable interrupt', false],
  [3, '#BP', 'Breakpoint (INT3)', false],
  [4, '#OF', 'Overflow (INTO)', false],
  [5, '#BR', 'BOUND range exceeded', false],
  [6, '#UD', 'Invalid opcode', false],
  [7, '#NM', 'Device not available', false],
  [8, '#DF', 'Double fault', true],
  [9, '', 'Coprocessor segment overrun (reserved)', false],
  [10, '#TS', 'Invalid TSS', true],
  [11, '#NP', 'Segment not present', true],
  [12, '#SS', 'Stack-segment fault', true],
  [13, '#GP', 'General protection', true],
  [14, '#PF', 'Page fault', true],
  [15, '', 'Reserved', false],
  [16, '#MF', 'x87 floating-point error', false],
  [17, '#AC', 'Alignment check', true],
  [18, '#MC', 'Machine check', false],
  [19, '#XM', 'SIMD floating-point exception', false],
  [20, '#VE', 'Virtualization exception', false],
  [21, '#CP', 'Control-protection exception', true],
  [22, '', 'Reserved', false],
  [23, '', 'Reserved', false],
  [24, '', 'Reserved', false],
  [25, '', 'Reserved', false],
  [26, '', 'Reserved', false],
  [27, '', 'Reserved', false],
  [28, '#HV', 'Hypervisor injection exception (AMD)', false],
  [29, '#VC', 'VMM communication exception (AMD)', true],
  [30, '#SX', 'Security exception (AMD)', true],
  [31, '', 'Reserved', false],
];

export const EXCEPTION_VECTORS: readonly ExceptionVector[] = ROWS.map(
  ([vector, mnemonic, name, errorCode]) => ({
    vector,
    mnemonic,
    name,
    errorCode,
  }),
);

/** "#PF Page fault" style label of vector 0-31; undefined for vectors 32-255. */
export function exceptionLabel(vector: number): string | undefined {
  const e = EXCEPTION_VECTORS[vector];
  if (!e || !Number.isInteger(vector)) return undefined;
  return e.mnemonic === '' ? e.name : `${e.mnemonic} ${e.name}`;
}
