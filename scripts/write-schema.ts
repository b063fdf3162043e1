// npm run schema: writes docs/scenario.schema.json, the JSON Schema of the scenario format,
// generated from the zod schema the lab validates with.
import { writeFileSync } from 'node:fs';
import { scenarioJsonSchema } from '../src/core/scenario/json-schema';

writeFileSync(
  new URL('../docs/scenario.schema.json', import.meta.url),
  JSON.stringify(scenarioJsonSchema(), null, 2) + '\n',
);
console.log('wrote docs/scenario.schema.json');
