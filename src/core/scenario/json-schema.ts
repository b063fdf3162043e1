// The published JSON Schema of scenario files (docs/scenario.schema.json), from the zod schema.
import { z } from 'zod';
import { ScenarioSchema } from './schema';

export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ScenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    $id: 'https://nestlab.invalid/scenario.schema.json',
    title: 'nestlab scenario, version 1',
    description:
      'A scenario sets up the machine and its programs: the stack of levels, external events and limits. See docs/scenario.md.',
    ...schema,
  };
}
