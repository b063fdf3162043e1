import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { scenarioJsonSchema } from '../../src/core/scenario/json-schema';

describe('the published JSON Schema', () => {
  it('is the one generated from the schema the lab validates with (run `npm run schema` after a change)', () => {
    const published = JSON.parse(
      readFileSync(new URL('../../docs/scenario.schema.json', import.meta.url), 'utf8'),
    );
    expect(published).toEqual(JSON.parse(JSON.stringify(scenarioJsonSchema())));
  });

  it('requires the version, name, arch and levels', () => {
    const s = scenarioJsonSchema() as { required: string[] };
    expect(s.required).toEqual(expect.arrayContaining(['version', 'name', 'title', 'arch', 'levels']));
  });
});
