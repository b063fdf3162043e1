// A scenario document in a URL: base64url of its UTF-8 text, the `s=` field of a link
// (links/link-format.ts, docs/links.md). `#s=` alone is the format of before link versions,
// still read. The scenario is the source of truth; computed states are never shared.

const PREFIX = '#s=';

export function encodeScenario(json: string): string {
  const bytes = new TextEncoder().encode(json);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeScenario(encoded: string): string | null {
  try {
    const base64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** The scenario in a location hash, or null when there is none (or it is unreadable). */
export function scenarioFromHash(hash: string): string | null {
  if (!hash.startsWith(PREFIX)) return null;
  return decodeScenario(hash.slice(PREFIX.length));
}

export function hashForScenario(json: string): string {
  return PREFIX + encodeScenario(json);
}

/**
 * The document to share for a run: its parameters' current values become their defaults, so
 * that the link opens the variant on screen (a document keeps its `{{param}}` templates, and
 * a link carries no parameters of its own). Unchanged when every value is the default.
 */
export function documentWithParamValues(
  json: string,
  values: readonly { key: string; value: string | number | boolean }[],
): string {
  let doc: { params?: Record<string, { default?: unknown }> };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return json;
  }
  const params = doc.params;
  if (!params || typeof params !== 'object') return json;
  let changed = false;
  for (const { key, value } of values) {
    const p = params[key];
    if (p && typeof p === 'object' && p.default !== value) {
      p.default = value;
      changed = true;
    }
  }
  return changed ? JSON.stringify(doc, null, 2) : json;
}
