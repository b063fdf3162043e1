// VMX: the VMCS field table, bit layouts and the numbers VMX reports.

export * from './fields';
export * from './bits';
export * from './exit-reasons';
export * from './exceptions';
