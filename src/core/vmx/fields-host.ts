// Host-state fields (encoding type 3): loaded by every VM exit. Names and encodings from
// Linux asm/vmx.h enum vmcs_field.

import { defineFields, sdm } from './encoding';

export const HOST_FIELDS = defineFields('host', sdm('Host-State Area'), [
  // 16-bit
  ['HOST_ES_SELECTOR', 0x0c00, 16, 'ES selector loaded at VM exit'],
  ['HOST_CS_SELECTOR', 0x0c02, 16, 'CS selector loaded at VM exit'],
  ['HOST_SS_SELECTOR', 0x0c04, 16, 'SS selector loaded at VM exit'],
  ['HOST_DS_SELECTOR', 0x0c06, 16, 'DS selector loaded at VM exit'],
  ['HOST_FS_SELECTOR', 0x0c08, 16, 'FS selector loaded at VM exit'],
  ['HOST_GS_SELECTOR', 0x0c0a, 16, 'GS selector loaded at VM exit'],
  ['HOST_TR_SELECTOR', 0x0c0c, 16, 'TR selector loaded at VM exit'],
  // 64-bit
  ['HOST_IA32_PAT', 0x2c00, 64, 'IA32_PAT (loaded with "load IA32_PAT")'],
  ['HOST_IA32_EFER', 0x2c02, 64, 'IA32_EFER (loaded with "load IA32_EFER")'],
  ['HOST_IA32_PERF_GLOBAL_CTRL', 0x2c04, 64, 'IA32_PERF_GLOBAL_CTRL'],
  // 32-bit
  ['HOST_IA32_SYSENTER_CS', 0x4c00, 32, 'IA32_SYSENTER_CS'],
  // natural width
  ['HOST_CR0', 0x6c00, 'natural', 'CR0 loaded at VM exit'],
  ['HOST_CR3', 0x6c02, 'natural', 'CR3 loaded at VM exit'],
  ['HOST_CR4', 0x6c04, 'natural', 'CR4 loaded at VM exit'],
  ['HOST_FS_BASE', 0x6c06, 'natural', 'FS base'],
  ['HOST_GS_BASE', 0x6c08, 'natural', 'GS base'],
  ['HOST_TR_BASE', 0x6c0a, 'natural', 'TR base'],
  ['HOST_GDTR_BASE', 0x6c0c, 'natural', 'GDTR base'],
  ['HOST_IDTR_BASE', 0x6c0e, 'natural', 'IDTR base: the host IDT (GDTR and IDTR limits become FFFFh)'],
  ['HOST_IA32_SYSENTER_ESP', 0x6c10, 'natural', 'IA32_SYSENTER_ESP'],
  ['HOST_IA32_SYSENTER_EIP', 0x6c12, 'natural', 'IA32_SYSENTER_EIP'],
  ['HOST_RSP', 0x6c14, 'natural', 'RSP loaded at VM exit'],
  ['HOST_RIP', 0x6c16, 'natural', 'RIP loaded at VM exit: where the hypervisor handles the exit'],
  ['HOST_S_CET', 0x6c18, 'natural', 'IA32_S_CET (loaded with "load CET state")'],
  ['HOST_SSP', 0x6c1a, 'natural', 'Shadow-stack pointer'],
  ['HOST_INTR_SSP_TABLE', 0x6c1c, 'natural', 'IA32_INTERRUPT_SSP_TABLE_ADDR'],
]);
