// The simulation worker: owns the session and answers the page over Comlink. The page keeps
// only what it shows; long runs never block it. The API itself is sim-api.ts.
import * as Comlink from 'comlink';
import { api } from './sim-api';

Comlink.expose(api);
