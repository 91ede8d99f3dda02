// src/config.ts names the Worker's `Env` (generated into worker-configuration.d.ts, with workerd's
// types, which this Node-side program does not load). token.test.ts imports src/auth/jwt.ts, whose
// types reach config.ts; there the bindings are only read as a record, and so they are here.
type Env = Record<string, unknown>;
